"""The default scorecard, built from the service principles, and the default protocol checks."""

from __future__ import annotations

from audits.config import ProtocolCheck, Scale, Scorecard, ScorecardCategory, ScorecardItem

DEFAULT_SCORECARD = Scorecard(
    id="service-principles",
    version=1,
    label="Service principles",
    categories=[
        ScorecardCategory(
            id="opening",
            label="Opening",
            items=[
                ScorecardItem(
                    id="greeting", label="Greeting", description="Greets the customer at the start"
                ),
                ScorecardItem(
                    id="personal_address",
                    label="Uses the customer's name",
                    weight=0.5,
                    allow_na=True,
                    description="Addresses the customer by name when it is known",
                ),
            ],
        ),
        ScorecardCategory(
            id="understanding",
            label="Understanding",
            items=[
                ScorecardItem(
                    id="empathy",
                    label="Acknowledges the customer's feelings",
                    scale=Scale.THREE_POINT,
                    allow_na=True,
                ),
                ScorecardItem(
                    id="apology_for_delay",
                    label="Apologises for a late first response",
                    allow_na=True,
                    description="Required when the first response breached its target",
                ),
                ScorecardItem(
                    id="active_listening",
                    label="Active listening",
                    scale=Scale.THREE_POINT,
                    description="Restates the issue in own words before solving it",
                ),
            ],
        ),
        ScorecardCategory(
            id="communication",
            label="Communication",
            items=[
                ScorecardItem(
                    id="clear_communication",
                    label="Clear, jargon-free communication",
                    scale=Scale.FOUR_POINT,
                    weight=1.5,
                ),
                ScorecardItem(
                    id="professional_tone",
                    label="Professional tone",
                    scale=Scale.FOUR_POINT,
                    weight=1.5,
                    critical=True,
                    description="Rude or dismissive language fails the whole review",
                ),
            ],
        ),
        ScorecardCategory(
            id="resolution",
            label="Resolution",
            items=[
                ScorecardItem(
                    id="product_knowledge",
                    label="Accurate product knowledge",
                    scale=Scale.FOUR_POINT,
                    weight=2.0,
                    critical=True,
                    description="Wrong information given to the customer fails the whole review",
                ),
                ScorecardItem(
                    id="solution_offered",
                    label="A solution is offered",
                    scale=Scale.THREE_POINT,
                    weight=2.0,
                ),
                ScorecardItem(
                    id="follow_up",
                    label="Follow-up promised and kept",
                    scale=Scale.THREE_POINT,
                    allow_na=True,
                ),
                ScorecardItem(
                    id="correct_escalation",
                    label="Correct escalation",
                    scale=Scale.THREE_POINT,
                    allow_na=True,
                    description="Escalates when, and only when, the case needs it",
                ),
            ],
        ),
        ScorecardCategory(
            id="closing",
            label="Closing",
            items=[ScorecardItem(id="thanks_at_close", label="Thanks the customer at the close")],
        ),
    ],
)

DEFAULT_CHECKS: tuple[ProtocolCheck, ...] = (
    ProtocolCheck(
        name="greeting",
        type="phrases",
        item="greeting",
        position="first",
        description="The first agent message greets the customer",
        phrases={
            "en": ["hi", "hello", "hey", "dear", "good morning", "good afternoon", "good evening", "welcome"],
            "de": ["hallo", "guten morgen", "guten tag", "guten abend", "liebe", "lieber", "sehr geehrte"],
            "fr": ["bonjour", "bonsoir", "salut", "cher", "chère"],
            "es": ["hola", "buenos días", "buenas tardes", "estimado", "estimada"],
        },
    ),
    ProtocolCheck(
        name="customer_name",
        type="customer_name",
        item="personal_address",
        position="any",
        description="An agent message addresses the customer by name",
    ),
    ProtocolCheck(
        name="empathy",
        type="phrases",
        item="empathy",
        description="An agent acknowledges how the customer feels",
        phrases={
            "en": [
                "I understand how",
                "I understand that",
                "I understand your",
                "I can imagine",
                "how frustrating",
                "must be frustrating",
                "I appreciate your patience",
                "I'm sorry to hear",
                "I am sorry to hear",
                "that sounds",
            ],
            "de": [
                "ich verstehe",
                "das ist ärgerlich",
                "kann ich gut nachvollziehen",
                "tut mir leid zu hören",
            ],
            "fr": ["je comprends", "je suis désolé d'apprendre", "je suis désolée d'apprendre"],
            "es": ["entiendo", "lamento escuchar", "comprendo"],
        },
    ),
    ProtocolCheck(
        name="apology_for_delay",
        type="phrases",
        item="apology_for_delay",
        position="first",
        when=["first_response_breached"],
        description="An apology for the wait is required when the first response breached",
        phrases={
            "en": [
                "sorry for the delay",
                "sorry for the wait",
                "sorry for the late",
                "apologies for the delay",
                "apologise for the delay",
                "apologize for the delay",
                "thank you for your patience",
                "thanks for your patience",
                "thank you for waiting",
            ],
            "de": [
                "entschuldigen sie die verzögerung",
                "entschuldigung für die verzögerung",
                "danke für ihre geduld",
            ],
            "fr": ["désolé pour le retard", "désolée pour le retard", "merci pour votre patience"],
            "es": ["disculpe la demora", "perdón por la demora", "gracias por su paciencia"],
        },
    ),
    ProtocolCheck(
        name="solution_offered",
        type="phrases",
        item="solution_offered",
        description="An agent offers a concrete solution; vague replies ('made some changes') do not count",
        phrases={
            "en": [
                "here is the solution",
                "here's the solution",
                "here is how",
                "here's how",
                "to resolve this",
                "to fix this",
                "I have fixed",
                "I've fixed",
                "I have resolved",
                "I've resolved",
                "I have issued",
                "I've issued",
                "I have refunded",
                "I have replaced",
                "you can now",
            ],
            "de": [
                "hier ist die lösung",
                "um das zu beheben",
                "ich habe das behoben",
                "ich habe die erstattung",
            ],
            "fr": ["voici la solution", "pour résoudre", "j'ai corrigé", "j'ai remboursé"],
            "es": ["esta es la solución", "para resolverlo", "he solucionado", "he reembolsado"],
        },
    ),
    ProtocolCheck(
        name="follow_up_promised",
        type="phrases",
        item="follow_up",
        description="An agent promises to follow up",
        phrases={
            "en": [
                "I will follow up",
                "I'll follow up",
                "I will get back to you",
                "I'll get back to you",
                "I will update you",
                "I'll update you",
                "I will keep you posted",
                "I'll keep you posted",
                "I will check back",
                "I'll check back",
            ],
            "de": ["ich melde mich", "ich werde mich melden", "ich halte sie auf dem laufenden"],
            "fr": ["je reviens vers vous", "je vous recontacte", "je vous tiendrai informé"],
            "es": ["le haré seguimiento", "me pondré en contacto", "le mantendré informado"],
        },
    ),
    ProtocolCheck(
        name="thanks_at_close",
        type="phrases",
        item="thanks_at_close",
        position="last",
        # Closing thanks only: "thanks for your message" opens a reply and must not count here.
        description="The last agent message thanks the customer for contacting",
        phrases={
            "en": [
                "thank you for contacting",
                "thanks for contacting",
                "thank you for choosing",
                "thanks for choosing",
                "thank you for your patience",
                "thanks again",
                "thank you again",
                "many thanks",
            ],
            "de": ["vielen dank für ihre anfrage", "danke für ihre anfrage", "vielen dank für ihre geduld"],
            "fr": ["merci de nous avoir contactés", "merci pour votre patience", "merci encore"],
            "es": ["gracias por contactarnos", "gracias por su paciencia", "gracias de nuevo"],
        },
    ),
)
