"""Message texts of the demo transcripts, assembled column-wise from small phrase pools.

The protocol phrases are exported so that audit checks and their tests can look for exactly these words.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from servicelens.demo.clock import BoolArray, IntArray
from servicelens.demo.columns import RowColumns

PROTOCOL_PHRASES: dict[str, str] = {
    "empathy": "I understand how frustrating this must be",
    "apology": "Sorry for the delay",
    "follow_up_promise": "I will follow up with you by",
    "follow_up_done": "Following up as promised",
    "thanks": "Thank you for contacting us",
}
GREETINGS_WITH_NAME = ("Hi {name},", "Good morning {name},", "Hello {name},", "Dear {name},")
GREETINGS_WITHOUT_NAME = ("Hi,", "Good morning,", "Hello,", "Hi there,")
# Every reply that offers a solution opens with one of these.
SOLUTION_OPENERS = ("I have fixed this:", "Here is the solution:", "To resolve this,")

_SOLUTIONS = (
    "I have fixed this: the change is now active on your account.",
    "Here is the solution: I have issued the refund and you will see it within 3 working days.",
    "To resolve this, I have sent a replacement that will arrive within 2 working days.",
    "Here is the solution: please update the app to the latest version and sign in again.",
    "I have fixed this: your booking has been updated and a new confirmation is on its way.",
    "To resolve this, I have reset the setting on our side; it works again from now on.",
)
_NO_SOLUTION = (
    "We have looked at your account and made some changes.",
    "This should be sorted now.",
    "Please try again later.",
)
_ACKNOWLEDGE = (
    "Thanks for your message.",
    "Thanks for getting in touch.",
    "Thanks for reaching out.",
)
_ACKNOWLEDGE_WITH_NAME = (
    "Thanks for your message, {name}.",
    "Thanks for getting in touch, {name}.",
    "Thanks for reaching out, {name}.",
)
_ASK_INFO = (
    "Could you please send me your order number so I can look into this?",
    "Could you send a screenshot of the message you see?",
    "Could you confirm the e-mail address on your account?",
)
_WORKING = (
    "I am looking into this now and will come back to you shortly.",
    "I have started on this and will update you soon.",
)
_THIRD_PARTY = (
    "I have passed this to our courier partner and am waiting for their answer.",
    "I have asked our payments provider to check this and am waiting for their reply.",
    "I have raised this with the store team and am waiting for them to confirm.",
)
_FOLLOW_UP = (
    "Following up as promised: our partner is still working on it and expects an answer shortly.",
    "Following up as promised: we have chased this again and will have news very soon.",
)
_CUSTOMER_OPENERS = ("Hello,", "Hi,", "Good afternoon,", "To whom it may concern,", "Hi there,")
_CUSTOMER_DETAILS = (
    "I ordered last week and still have no update.",
    "I have already tried twice and it still does not work.",
    "Could you please help me with this?",
    "I need this sorted before the weekend.",
    "This has happened before.",
)
_UPSET = "This is really frustrating."
_CUSTOMER_INFO = (
    "Here is the information you asked for. My order number is in the attachment.",
    "Please find the screenshot attached.",
    "Yes, that is the right e-mail address.",
)
_CUSTOMER_REOPEN = (
    "This is still not working, sorry.",
    "The problem is back again.",
    "I have not received anything yet.",
)
_REOPEN_REPLY = (
    "I am sorry this is still not right. I have fixed this: it is corrected properly now.",
    "Apologies that this came back. Here is the solution: I have replaced the item free of charge.",
)
_NOTES = (
    "Checked the order history; nothing unusual.",
    "Customer has contacted us about this before.",
    "Asked the team lead for approval.",
    "Waiting on the warehouse to confirm stock.",
)


def fill_name(template: pl.Expr, first_names: pl.Expr) -> pl.Expr:
    return template.str.replace("{name}", first_names, literal=True)


def _when(condition: pl.Expr, text: pl.Expr | str) -> pl.Expr:
    return pl.when(condition).then(text if isinstance(text, pl.Expr) else pl.lit(text))


def join_lines(*parts: pl.Expr) -> pl.Expr:
    return pl.concat_str(list(parts), separator="\n", ignore_nulls=True)


def customer_request(rows: RowColumns, subject: pl.Expr, first: pl.Expr, upset: BoolArray) -> pl.Expr:
    return join_lines(
        rows.pick(_CUSTOMER_OPENERS),
        pl.concat_str([subject, pl.lit("."), pl.lit(" "), rows.pick(_CUSTOMER_DETAILS)]),
        _when(rows.flag(upset), _UPSET),
        pl.concat_str([pl.lit("Thanks,\n"), first]),
    )


def customer_follow_up(rows: RowColumns, first: pl.Expr, reopen: bool) -> pl.Expr:
    pool = _CUSTOMER_REOPEN if reopen else _CUSTOMER_INFO
    return join_lines(rows.pick(pool), first)


def agent_opening(
    rows: RowColumns,
    first: pl.Expr,
    greeting: BoolArray,
    use_name: BoolArray,
    empathy: BoolArray | None = None,
    apology: BoolArray | None = None,
) -> list[pl.Expr]:
    """Greeting line (with or without the name), acknowledgement, empathy and apology lines."""
    greet_line = pl.when(rows.flag(greeting)).then(
        pl.when(rows.flag(use_name))
        .then(fill_name(rows.pick(GREETINGS_WITH_NAME), first))
        .otherwise(rows.pick(GREETINGS_WITHOUT_NAME))
    )
    # Without a greeting the name, when used, appears in the acknowledgement instead.
    acknowledge = (
        pl.when(rows.flag(~greeting & use_name))
        .then(fill_name(rows.pick(_ACKNOWLEDGE_WITH_NAME), first))
        .otherwise(rows.pick(_ACKNOWLEDGE))
    )
    lines = [greet_line, acknowledge]
    if empathy is not None:
        lines.append(_when(rows.flag(empathy), PROTOCOL_PHRASES["empathy"] + "."))
    if apology is not None:
        lines.append(_when(rows.flag(apology), PROTOCOL_PHRASES["apology"] + " in getting back to you."))
    return lines


def solution_line(rows: RowColumns, offered: BoolArray) -> pl.Expr:
    return pl.when(rows.flag(offered)).then(rows.pick(_SOLUTIONS)).otherwise(rows.pick(_NO_SOLUTION))


def sign_off(rows: RowColumns, agent_first: pl.Expr, thanks: BoolArray | None = None) -> list[pl.Expr]:
    lines: list[pl.Expr] = []
    if thanks is not None:
        lines.append(_when(rows.flag(thanks), PROTOCOL_PHRASES["thanks"] + "."))
    lines.append(pl.concat_str([pl.lit("Kind regards,\n"), agent_first]))
    return lines


def first_reply_middle(
    rows: RowColumns,
    kind: IntArray,
    offered: BoolArray,
    promise: BoolArray,
    promise_date: pl.Expr,
) -> list[pl.Expr]:
    """Kind: 0 solved at once, 1 waiting for the customer, 2 waiting for a third party, 3 working on it."""
    k = rows.add(kind)
    main = (
        pl.when(k == 0)
        .then(solution_line(rows, offered))
        .when(k == 1)
        .then(rows.pick(_ASK_INFO))
        .when(k == 2)
        .then(rows.pick(_THIRD_PARTY))
        .otherwise(rows.pick(_WORKING))
    )
    promise_line = pl.when(rows.flag(promise)).then(
        pl.concat_str([pl.lit(PROTOCOL_PHRASES["follow_up_promise"] + " "), promise_date, pl.lit(".")])
    )
    return [main, promise_line]


def follow_up_text(rows: RowColumns) -> pl.Expr:
    return rows.pick(_FOLLOW_UP)


def reopen_reply(rows: RowColumns) -> pl.Expr:
    return rows.pick(_REOPEN_REPLY)


def internal_note(rows: RowColumns) -> pl.Expr:
    return rows.pick(_NOTES)


def first_names(numbers: npt.NDArray[np.int64], pool: tuple[str, ...]) -> pl.Series:
    return pl.Series(pool).gather(numbers % len(pool))
