"""Command groups of the ``servicelens`` command line, each registered in ``servicelens.cli``."""
