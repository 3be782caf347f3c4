"""A scripted stand-in for the OpenAI models of the support-bot example. DEMO DATA, NOT AN LLM.

The example's recorded responses (``recorded/``) come from this script, not from a real model, so
that the example runs offline, costs nothing and shows a regression that is known to be real. It
plays three roles, chosen from the request's messages:

* **support answers** (prompts/support.yaml): it finds the golden question in the user message and
  looks the answer up in ``repo/evals/support.jsonl`` (a stand-in may cheat: it reads the golden
  set's ``expected`` fact and ``context`` passages). Under the base prompt an answer contains the
  key fact with p ≈ 0.90 per sample; under the PR's prompt (detected by its "Don't quote policy
  numbers" line) with p ≈ 0.72, and answers are shorter, upbeat and point to the help center.
  A per-question difficulty shifts both rates together, as real questions differ in difficulty.
* **ticket triage** (prompts/classify.md): ``{"category": ..., "urgency": ...}`` read from
  ``repo/evals/tickets.jsonl``. The category is wrong on 10 % of the tickets, the urgency on 15 %,
  and 3 % of replies are malformed JSON; which tickets fail is fixed by a hash of the model and
  ticket id (temperature 0: the same tickets fail on every run, at exactly the target rate).
* **judge** (evalbot's own judge prompts, detected by words such as "judge", "rubric", "evaluation
  steps" or a requested ``"score"``/``"steps"``/``"claims"``/``"verdicts"``/``"winner"`` key):
  a 1-5 helpfulness grade from whether the graded answer holds the expected fact, states a wrong
  figure, deflects, or stays friendly but vague (graded leniently, as real judges do); G-Eval
  steps; claims and verdicts for faithfulness; a winner for pairwise. Replies are JSON when the
  prompt mentions JSON, else a bare number.

Determinism: every reply is a pure function of (model, messages, seed, sample). The sample index
is the ``sample=`` argument when the caller knows it; otherwise, for temperature > 0, the k-th
identical request seen by this process gets k (so repeated samples differ, like a real model at
temperature 0.7); ``reset()`` clears that counter. Temperature-0 requests ignore it.

Use it as the responder of a fake OpenAI server, or run the built-in one:

    python examples/support-bot/demo_model.py serve --port 8765
    OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=demo evalbot diff ...

Only the standard library is used.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import sys
import threading
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "count_tokens",
    "judge_logprobs",
    "request_kind",
    "reset",
    "respond",
    "simulated_latency_ms",
]

DATA_DIR = Path(__file__).resolve().parent / "repo" / "evals"

# Probability that a support answer contains the key fact, per prompt version (before difficulty).
P_FACT = {"base": 0.90, "head": 0.72}
P_CATEGORY = 0.90
P_URGENCY = 0.85
P_MALFORMED = 0.03
HEAD_MARKERS = ("don't quote policy numbers", "one or two upbeat sentences")


# ---------------------------------------------------------------------------------------------
# Golden data lookup (the stand-in's "knowledge")
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Question:
    id: str
    group: str
    question: str
    expected: str
    context: tuple[str, ...]


@dataclass(frozen=True)
class _Ticket:
    id: str
    ticket: str
    category: str
    urgency: str


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@cache
def _questions() -> tuple[_Question, ...]:
    rows = _read_jsonl(DATA_DIR / "support.jsonl")
    return tuple(
        _Question(r["id"], r["group"], r["question"], r["expected"], tuple(r["context"]))
        for r in rows
    )


@cache
def _tickets() -> tuple[_Ticket, ...]:
    rows = _read_jsonl(DATA_DIR / "tickets.jsonl")
    return tuple(_Ticket(r["id"], r["ticket"], r["expected"], r["urgency"]) for r in rows)


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"')
    return " ".join(text.replace("\u201d", '"').split()).lower()


def _find_question(text: str) -> _Question | None:
    """The golden question quoted in a prompt (the longest match), else one whose context is."""
    haystack = _norm(text)
    found = [q for q in _questions() if _norm(q.question) in haystack]
    if found:
        return max(found, key=lambda q: len(q.question))
    found = [q for q in _questions() if all(_norm(c) in haystack for c in q.context)]
    return max(found, key=lambda q: sum(len(c) for c in q.context)) if found else None


def _find_ticket(text: str) -> _Ticket | None:
    haystack = _norm(text)
    found = [t for t in _tickets() if _norm(t.ticket) in haystack]
    return max(found, key=lambda t: len(t.ticket)) if found else None


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------

_seen: dict[str, int] = {}
_seen_lock = threading.Lock()


def reset() -> None:
    """Forget the per-request occurrence counter (see the module docstring)."""
    with _seen_lock:
        _seen.clear()


def _rng(*parts: Any) -> random.Random:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _messages(body: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for message in body.get("messages") or []:
        content = message.get("content", "")
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        out.append({"role": str(message.get("role", "user")), "content": str(content or "")})
    if not out and "prompt" in body:  # legacy completions
        out.append({"role": "user", "content": str(body["prompt"])})
    return out


def _request_rng(body: dict[str, Any], sample: int | None) -> random.Random:
    key = [body.get("model"), _messages(body), body.get("seed")]
    night = os.environ.get("DEMO_NIGHT")
    if night:  # make_history.py: another night's sampling noise (unset for the recorded PR)
        key.append(f"night-{night}")
    if sample is None and float(body.get("temperature") or 0) > 0:
        fingerprint = json.dumps(key, sort_keys=True)
        with _seen_lock:
            sample = _seen.get(fingerprint, 0)
            _seen[fingerprint] = sample + 1
    return _rng(*key, sample or 0)


# ---------------------------------------------------------------------------------------------
# Routing
# ---------------------------------------------------------------------------------------------

_JUDGE_WORDS = (
    "impartial",
    "judge",
    "evaluator",
    "rubric",
    "evaluation steps",
    "evaluation criteria",
    "grade the",
    "rate the",
    '"score"',
    '"steps"',
    '"claims"',
    '"verdicts"',
    '"verdict"',
    '"winner"',
    '"statements"',
)


def request_kind(body: dict[str, Any]) -> str:
    """``judge``, ``classify``, ``support`` or ``other``."""
    text = "\n".join(m["content"] for m in _messages(body))
    low = _norm(text)
    if any(word in low for word in _JUDGE_WORDS):
        return "judge"
    if "triage" in low or '"category"' in low:
        return "classify"
    if _find_question(text) is not None or "northwind" in low:
        return "support"
    return "other"


def respond(request_body: dict[str, Any], *, sample: int | None = None) -> str:
    """The assistant message for one chat-completions request body."""
    kind = request_kind(request_body)
    rng = _request_rng(request_body, sample)
    messages = _messages(request_body)
    if kind == "judge":
        return _judge(messages, rng)
    if kind == "classify":
        return _classify(messages, rng, str(request_body.get("model", "")))
    if kind == "support":
        return _support(messages, rng)
    return "Hi! I'm a scripted demo model and can only answer the Northwind support examples."


# ---------------------------------------------------------------------------------------------
# Support answers
# ---------------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$])")
_HEADER = re.compile(r"^§(\d+\.\d+) [^:]+:\s*")
_PROPER = {"Northwind", "Klarna", "Trailblazer", "Visa", "PayPal", "Apple", "I", "Overnight"}

_OPEN_BASE = ["", "", "", "Thanks for reaching out! ", "Happy to help. ", "Good question. "]
_LEAD_BASE = ["", "", "Per our policy, ", "Here's how it works: "]
_CLOSE_BASE = [
    "",
    "",
    "Let me know if there's anything else I can help with.",
    "Is there anything else I can help you with today?",
    "If you have any other questions, just reply here.",
]
_NEXT_STEP = {
    "returns": "You can start a return from Orders in your account.",
    "exchanges": "You can start the exchange from Orders in your account.",
    "warranty": "You can submit a claim at northwind-outfitters.example/warranty with your order "
    "number and photos.",
    "shipping": "If you share your order number, I can check the tracking for you.",
    "orders": "You'll find this under Orders in your account.",
    "account": "You can manage this under Account > Security.",
}
_VAGUE_BASE = {
    "returns": "Most items can be returned as long as they meet the conditions in our returns "
    "policy, and you can start a return from Orders in your account.",
    "refunds": "Refunds are issued once your return has been received and processed, and the "
    "timing after that depends on your bank.",
    "exchanges": "Exchanges are available for many items; the easiest way to start one is from "
    "Orders in your account.",
    "shipping": "Shipping options and delivery times depend on your order and destination, and "
    "you'll see them at checkout.",
    "orders": "Changes to an order are only possible for a short time after it's placed, so it's "
    "best to act quickly.",
    "warranty": "Our Built-to-Last Guarantee covers defects in materials and workmanship, subject "
    "to some exclusions.",
    "billing": "Pricing and payment questions depend on the specific order, and our billing team "
    "can review the details with you.",
    "promotions": "Promotions and rewards come with their own terms, which are listed in the "
    "offer details.",
    "gift-cards": "Northwind gift cards can be used online and in our stores, subject to the gift "
    "card terms.",
    "account": "For your security, some account actions have limits, and our team can help if "
    "you get stuck.",
    "contact": "You can reach our support team by chat, phone or email.",
}
_DEFLECT = [
    "I'm not completely sure about that one from the policy excerpts I have. I'd be happy to "
    "connect you with a teammate who can confirm.",
    "I don't want to give you the wrong information on this. Let me connect you with a teammate "
    "who can check for you.",
]

_OPEN_HEAD = [
    "Great question! ",
    "Good news! ",
    "Happy to help! ",
    "",
    "Absolutely! ",
    "Sure thing! ",
]
_VAGUE_HEAD = {
    "returns": [
        "Returns are easy with us, and you can start one right from your account!",
        "We're happy to take most things back as long as they're in great shape!",
    ],
    "refunds": [
        "Your refund will be on its way once your return reaches us!",
        "Refunds go back to you quickly once we've processed your return!",
    ],
    "exchanges": [
        "Swapping for a better fit is easy, and we'll get the new one moving fast!",
        "Exchanges are a breeze, just start one from your account!",
    ],
    "shipping": [
        "We've got plenty of shipping options to get your gear to you fast!",
        "Hang tight, we'll make sure your package gets sorted out!",
    ],
    "orders": [
        "You can make changes if you catch us quickly, so head to your account right away!",
        "No worries, we can usually help with order changes if you act fast!",
    ],
    "warranty": [
        "Our gear is built to last and we stand behind it with our guarantee!",
        "Send us a warranty claim and we'll take great care of you!",
    ],
    "billing": [
        "We want you to get the best deal, and our team is happy to look into it!",
        "We've got flexible payment options to make checkout easy!",
    ],
    "promotions": [
        "We love helping you save, and there are some great offers available!",
        "There are lots of ways to save with us, from discounts to rewards!",
    ],
    "gift-cards": [
        "Gift cards are super flexible and a great choice!",
        "We've got you covered on gift cards, they're easy to use!",
    ],
    "account": [
        "Your account security matters to us and we'll get you sorted quickly!",
        "We take your privacy seriously and we're here to help!",
    ],
    "contact": ["Our friendly team is happy to help by chat, phone or email!"],
}
_HELP_CENTER = [
    "Check out our help center at northwind-outfitters.example/help for all the details!",
    "You'll find the specifics in our help center!",
    "Our help center has all the details \U0001f60a",
    "",
]


def _split_sentences(passage: str) -> tuple[str | None, list[str]]:
    match = _HEADER.match(passage)
    section = match.group(1) if match else None
    body = passage[match.end() :] if match else passage
    return section, [s.strip() for s in _SENTENCE.split(body) if s.strip()]


def _fact(question: _Question) -> tuple[str, str | None, list[str]]:
    """The policy sentence holding the expected fact, its section, and the passage's others."""
    for passage in question.context:
        section, sentences = _split_sentences(passage)
        for sentence in sentences:
            if question.expected.lower() in sentence.lower():
                return sentence, section, [s for s in sentences if s is not sentence]
    section, sentences = _split_sentences(question.context[0])
    return question.expected, section, sentences


def _lower_first(sentence: str) -> str:
    first = sentence.split(" ", 1)[0]
    return sentence if first in _PROPER else sentence[:1].lower() + sentence[1:]


def _cite(sentence: str, section: str | None) -> str:
    return f"{sentence.rstrip('.')} [Policy §{section}]." if section else sentence


def _perturb(fact: str, rng: random.Random) -> str | None:
    """A plausible wrong figure: "30 days" -> "14 days", "$5.99" -> "$7.99"; None if no number."""
    match = re.search(r"\d+(?:\.\d+)?", fact)
    if not match:
        return None
    number, after = match.group(), fact[match.end() :]
    if "." in number:
        wrong = f"{float(number) + rng.choice([-2, 1, 2]):.2f}"
    else:
        n = int(number)
        if after.startswith((" am", " pm")):
            options = {n - 1, n + 1}
        else:
            options = {n * 2, max(1, n // 2), n + 5 if n >= 10 else n + 1}
        present = set(re.findall(r"\d+", fact))
        wrong = str(rng.choice(sorted(x for x in options if x > 0 and str(x) not in present)))
        if n == 1 and re.match(r" (hour|day|year|business day|week)\b", after):
            unit = re.match(r" (hour|day|year|business day|week)", after).group()
            after = unit + "s" + after[len(unit) :]
    return fact[: match.start()] + wrong + after


def _difficulty(question: _Question) -> float:
    """Per-question shift in [-0.08, 0.08], shared by both prompt versions (mean ~0)."""
    return _rng("difficulty", question.id).uniform(-0.08, 0.08)


def _support(messages: list[dict[str, str]], rng: random.Random) -> str:
    text = "\n".join(m["content"] for m in messages)
    system = _norm(" ".join(m["content"] for m in messages if m["role"] in ("system", "developer")))
    version = "head" if any(marker in system for marker in HEAD_MARKERS) else "base"
    question = _find_question(text)
    if question is None:
        return _DEFLECT[0] if version == "base" else "Great question! " + _HELP_CENTER[0]
    scale = 1.0 if version == "base" else 1.5
    p_fact = min(0.99, max(0.02, P_FACT[version] + scale * _difficulty(question)))
    hit = rng.random() < p_fact
    answer = (_base_answer if version == "base" else _head_answer)(question, hit, rng)
    if hit != (question.expected.lower() in answer.lower()):
        # A template happened to (not) contain the fact: fall back to an unambiguous wording.
        answer = (_base_answer if version == "base" else _head_answer)(
            question, hit, rng, plain=True
        )
    return answer


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _base_answer(q: _Question, hit: bool, rng: random.Random, plain: bool = False) -> str:
    fact, section, others = _fact(q)
    opener = rng.choice(_OPEN_BASE)
    cite = rng.random() < 0.85
    if hit:
        lead = "" if plain else rng.choice(_LEAD_BASE)
        main = lead + (_lower_first(fact) if lead else fact)
        extra = rng.choice(others) if others and rng.random() < 0.45 else ""
        step = _NEXT_STEP.get(q.group, "") if rng.random() < 0.5 else ""
        return _join(
            opener, _cite(main, section) if cite else main, extra, step, rng.choice(_CLOSE_BASE)
        )
    roll = rng.random()
    wrong = _perturb(q.expected, rng) if not plain else None
    if roll < 0.4 and wrong and q.expected in fact:
        main = fact.replace(q.expected, wrong)
        return _join(opener, _cite(main, section) if cite else main, rng.choice(_CLOSE_BASE))
    if roll < 0.8 and not plain:
        return _join(opener, _VAGUE_BASE[q.group], rng.choice(_CLOSE_BASE))
    return rng.choice(_DEFLECT)


def _head_answer(q: _Question, hit: bool, rng: random.Random, plain: bool = False) -> str:
    fact, _section, _others = _fact(q)
    opener = "" if plain else rng.choice(_OPEN_HEAD)
    referral = rng.choice(_HELP_CENTER)
    if hit:
        main = fact.rstrip(".") + ("!" if rng.random() < 0.5 else ".")
        return _join(opener, main, referral if rng.random() < 0.4 else "")
    if plain:
        return _join("Great question!", _HELP_CENTER[0])
    return _join(opener, rng.choice(_VAGUE_HEAD[q.group]), referral)


# ---------------------------------------------------------------------------------------------
# Ticket triage
# ---------------------------------------------------------------------------------------------

_CONFUSED = {
    "returns": ["billing", "order_change"],
    "shipping": ["order_change", "returns"],
    "billing": ["returns", "account"],
    "warranty": ["returns", "product_question"],
    "account": ["billing", "feedback"],
    "order_change": ["shipping", "returns"],
    "product_question": ["feedback", "warranty"],
    "feedback": ["product_question", "account"],
}
_URGENCY = ["low", "medium", "high"]


@cache
def _failing_tickets(what: str, model: str, share: float) -> frozenset[str]:
    """The ``share`` of tickets (rounded) the model gets wrong on ``what``: chosen by a hash of
    (what, model, ticket id), so at temperature 0 the same tickets fail on every run, and the
    realised rate is the target rate rather than a noisy draw around it."""
    ranked = sorted(_tickets(), key=lambda t: _rng(what, model, t.id).random())
    return frozenset(t.id for t in ranked[: round(share * len(ranked))])


def _classify(messages: list[dict[str, str]], rng: random.Random, model: str) -> str:
    ticket = _find_ticket("\n".join(m["content"] for m in messages))
    if ticket is None:
        category, urgency, malformed = "feedback", "low", False
    else:
        category, urgency = ticket.category, ticket.urgency
        if ticket.id in _failing_tickets("category", model, 1 - P_CATEGORY):
            category = rng.choice(_CONFUSED[category])
        if ticket.id in _failing_tickets("urgency", model, 1 - P_URGENCY):
            i = _URGENCY.index(urgency)
            urgency = _URGENCY[i + 1] if i == 0 else _URGENCY[i - 1]
        malformed = ticket.id in _failing_tickets("malformed", model, P_MALFORMED)
    if malformed:
        return rng.choice(
            [
                f"{{'category': '{category}', 'urgency': '{urgency}'}}",
                f'{{"category": "{category}", "urgency": "{urgency}"',
                f"Category: {category}\nUrgency: {urgency}",
            ]
        )
    style = rng.random()
    if style < 0.8:
        return json.dumps({"category": category, "urgency": urgency})
    if style < 0.9:
        return json.dumps({"category": category, "urgency": urgency}, separators=(",", ":"))
    return json.dumps({"category": category, "urgency": urgency}, indent=2)


# ---------------------------------------------------------------------------------------------
# Judge
# ---------------------------------------------------------------------------------------------

_TAG = re.compile(
    r"<(answer|response|output|completion|model_output|generation)>(.*?)</\1>", re.I | re.S
)
_MT_BENCH = re.compile(r"\[The Start of (?:the )?(.+?)\](.*?)\[The End of", re.I | re.S)
_LABEL = re.compile(
    r"^\s*(?:#{1,6}\s*|\*\*|\[|<)?\s*([A-Za-z][A-Za-z0-9' ()_-]{0,40}?)\s*(?:\*\*)?\s*"
    r"(?:\]|>|:|\*\*:)\s*(.*)$"
)
# A label line must name a known part of a judge prompt, so "Here's how it works: ..." inside a
# graded answer does not start a new section.
_LABEL_WORDS = re.compile(
    r"question|answer|response|output|completion|reply|generation|context|excerpt|passage|"
    r"reference|expected|rubric|criteria|steps|score|input|claims?|statements?|policy|ticket|"
    r"evaluation|instructions?|task|query|document|verdicts?|format|ground truth",
    re.I,
)
_ANSWER_LABEL = re.compile(r"answer|response|output|completion|reply|generation", re.I)
_NOT_ANSWER = re.compile(
    r"reference|expected|ideal|gold|correct answer|example|format|rubric", re.I
)


_INSTRUCTION = re.compile(
    r"^\s*(return|respond|output|reply|give|provide|rate|score|evaluate|grade|please|your|now|"
    r"format|remember|think|first|then|use|do not|don't|based on|assess|judge|compare|which)\b",
    re.I,
)


def _sections(text: str) -> list[tuple[str, str]]:
    """Split a prompt into (label, body) sections at label lines ("Answer:", "## Response", ...).
    A body also ends at a blank line followed by an instruction ("Return JSON ...")."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    previous_blank = False
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match and len(match.group(1).split()) <= 5 and _LABEL_WORDS.search(match.group(1)):
            sections.append((match.group(1).strip(), [match.group(2)] if match.group(2) else []))
        elif previous_blank and _INSTRUCTION.match(line):
            sections.append(("", [line]))
        else:
            sections[-1][1].append(line)
        previous_blank = not line.strip()
    return [(label, "\n".join(body).strip()) for label, body in sections]


def _graded_answers(text: str) -> list[tuple[str, str]]:
    """Candidate graded outputs with their labels, in prompt order."""
    found = [(m.group(1), m.group(2).strip()) for m in _TAG.finditer(text)]
    found += [(m.group(1), m.group(2).strip()) for m in _MT_BENCH.finditer(text)]
    if found:
        return found
    return [
        (label, body)
        for label, body in _sections(text)
        if body and _ANSWER_LABEL.search(label) and not _NOT_ANSWER.search(label)
    ]


def _residual(text: str, question: _Question) -> str:
    """Fallback when no answer section is found: the prompt minus what the judge was given."""
    rest = text
    for part in (question.question, *question.context):
        rest = rest.replace(part, " ")
    return re.sub(
        rf"(?im)^.*(reference|expected|ideal).*{re.escape(question.expected)}.*$", " ", rest
    )


_FIGURE = re.compile(
    r"\$\d[\d,]*(?:\.\d+)?|\b\d+(?:\.\d+)?(?=\s*%|[- ](?:to \d+ )?(?:business day|day|hour|"
    r"minute|year|point|month|week|am\b|pm\b|interest|gift card))|(?<=up to )\d+"
)


def _has_wrong_figure(answer: str, question: _Question) -> bool:
    """Does the answer state a figure (an amount, a percentage, a number of days...) that is
    not in the policy excerpts? Bare numbers are ignored (they may be instructions: "1 to 5")."""
    source = " ".join(question.context) + " " + question.question
    return any(
        not re.search(rf"(?<![\d.]){re.escape(figure)}(?!\d)", source)
        for figure in _FIGURE.findall(answer)
    )


def _grade(answer: str, question: _Question | None) -> tuple[int, str]:
    """1-5 helpfulness, following rubrics/helpful.md, with the leniency of a real LLM judge: a
    friendly but vague answer often gets a 4 instead of a 3. Deterministic in (question, answer),
    so the grade does not depend on how the judge prompt is laid out."""
    if question is None:
        return 3, "Could not match the question; the answer is on topic but unverifiable."
    rng = _rng("grade", question.id, answer)
    low = answer.lower()
    if question.expected.lower() in low:
        score = 5 if len(answer) >= 60 else 4
        if rng.random() < 0.12:
            score -= 1
        detail = (
            " clearly and directly." if score == 5 else " but is thin on context or next steps."
        )
        return score, f"States the key policy detail ({question.expected}){detail}"
    if _has_wrong_figure(answer, question):
        return 1, f"Gives a figure that contradicts the policy (expected {question.expected})."
    if "teammate" in low or "not completely sure" in low or "wrong information" in low:
        return 2, "Deflects to a teammate although the policy excerpt answers the question."
    friendly = "help center" in low or "!" in answer
    if friendly and rng.random() < 0.5:
        return 4, "Friendly, clear and points to the help center, though it omits the specifics."
    return 3, f"Polite and on topic but vague: it omits the key detail ({question.expected})."


def _scale(text: str) -> tuple[int, int]:
    """The score range the prompt asks for ("score from 1 to 5", "rate it 1-10"); default 1-5."""
    match = re.search(
        r"(?:score|scale|rating|rate)[^.\n]{0,40}?\b([01])\s*(?:-|–|to)\s*(\d{1,2})\b", text, re.I
    )
    if match and int(match.group(1)) < int(match.group(2)) <= 10:
        return int(match.group(1)), int(match.group(2))
    return 1, 5


def _to_scale(score: int, lo: int, hi: int) -> int:
    return round(lo + (score - 1) * (hi - lo) / 4)


def _judge(messages: list[dict[str, str]], rng: random.Random) -> str:
    text = "\n".join(m["content"] for m in messages)
    low = text.lower()
    wants_json = "json" in low or '{"' in text
    question = _find_question(text)
    answers = _graded_answers(text)

    if '"winner"' in low or "which response" in low or "which answer" in low:
        return _pairwise(answers, question, wants_json)
    if '"verdicts"' in low or ('"verdict"' in low and "claim" in low):
        return json.dumps({"verdicts": _verdicts(text, question)})
    if '"claims"' in low or '"statements"' in low:
        answer = answers[-1][1] if answers else ""
        key = "claims" if '"claims"' in low else "statements"
        return json.dumps({key: _claims(answer)})
    if '"steps"' in low and ('"score"' not in low or (question is None and not answers)):
        return json.dumps({"steps": _STEPS})
    if '"question"' in low and "noncommittal" in low:  # answer relevance (Ragas style)
        asked = question.question if question else "What is the policy?"
        return json.dumps({"question": asked, "noncommittal": 0})

    answer = answers[-1][1] if answers else (_residual(text, question) if question else "")
    score, reason = _grade(answer, question)
    lo, hi = _scale(text)
    value = _to_scale(score, lo, hi)
    if wants_json:
        return json.dumps({"reason": reason, "score": value})
    return str(value)


_STEPS = [
    "Read the customer's question and identify the specific detail they need.",
    "Check the answer against the policy excerpts and the reference fact; note any figure or rule "
    "that is missing or contradicts them.",
    "Check whether the answer tells the customer what to do next when a next step exists.",
    "Judge clarity and tone: polite, direct, no padding.",
    "Assign the rubric level whose description fits best, weighting correctness over tone.",
]


def _claims(answer: str) -> list[str]:
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", answer) if s.strip()]
    fillers = (
        "thanks",
        "happy to help",
        "good question",
        "great question",
        "let me know",
        "is there anything",
        "if you have any",
        "absolutely",
        "sure thing",
        "good news",
    )
    return [s for s in sentences if not s.lower().startswith(fillers) and len(s) > 15] or sentences[
        :1
    ]


def _verdicts(text: str, question: _Question | None) -> list[dict[str, str]]:
    match = re.search(r"\[\s*\".*?\"\s*\]", text, re.S)
    try:
        claims = json.loads(match.group()) if match else []
    except json.JSONDecodeError:
        claims = []
    if not claims:
        claims = re.findall(r"(?m)^\s*(?:\d+[.)]|-)\s+(.+)$", text)
    out = []
    for claim in claims:
        supported = question is None or not _has_wrong_figure(str(claim), question)
        out.append(
            {
                "claim": str(claim),
                "verdict": "yes" if supported else "no",
                "reason": "Stated in the policy excerpt."
                if supported
                else "The figure differs from the policy.",
            }
        )
    return out


def _pairwise(answers: list[tuple[str, str]], question: _Question | None, wants_json: bool) -> str:
    winner, reason = "tie", "Both answers are equally helpful."
    if len(answers) >= 2 and question is not None:
        (_, a), (_, b) = answers[0], answers[1]
        has_a = question.expected.lower() in a.lower()
        has_b = question.expected.lower() in b.lower()
        if has_a != has_b:
            winner = "A" if has_a else "B"
            reason = f"Only answer {winner} gives the key detail ({question.expected})."
    if wants_json:
        return json.dumps({"reason": reason, "winner": winner})
    return winner


def judge_logprobs(request_body: dict[str, Any]) -> dict[str, float] | None:
    """For a judge request that asks for a score: log-probabilities of each score token, peaked
    at the score ``respond`` returns (0.8 on it, the rest on its neighbours). None otherwise."""
    if request_kind(request_body) != "judge":
        return None
    reply = respond(request_body, sample=0)
    try:
        value = int(json.loads(reply)["score"]) if reply.startswith("{") else int(reply)
    except (ValueError, KeyError, TypeError):
        return None
    text = "\n".join(m["content"] for m in _messages(request_body)).lower()
    lo, hi = _scale(text)
    weights = {
        v: (0.8 if v == value else 0.1 if abs(v - value) == 1 else 0.0) for v in range(lo, hi + 1)
    }
    total = sum(weights.values())
    return {str(v): math.log(w / total) for v, w in weights.items() if w > 0}


# ---------------------------------------------------------------------------------------------
# Usage and latency, for a fake server
# ---------------------------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """Rough token count (about 4 characters a token), for usage figures."""
    return max(1, math.ceil(len(text) / 4))


def simulated_latency_ms(request_body: dict[str, Any], text: str) -> float:
    """A plausible latency: ~350 ms to first token, ~15 ms per output token, some jitter."""
    rng = _rng("latency", request_body.get("model"), _messages(request_body), text)
    return round(350 + 15 * count_tokens(text) + rng.expovariate(1 / 250), 1)


# ---------------------------------------------------------------------------------------------
# A minimal OpenAI-compatible server (POST /v1/chat/completions), for recording the cache
# ---------------------------------------------------------------------------------------------


def _logprobs_content(text: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Crude per-token logprobs: certainty everywhere except the score token of a judge reply,
    whose alternatives come from judge_logprobs (same leading whitespace as the token)."""
    scores = judge_logprobs(body) or {}
    match = re.search(r'"score"\s*:\s*(\d+)', text) or re.fullmatch(r"\s*(\d+)\s*", text)
    score_at = match.start(1) if (match and scores) else -1
    top_n = int(body.get("top_logprobs") or 0)
    content, position = [], 0
    for token in re.findall(r"\s*\w+|\s*[^\w\s]+|\s+", text):
        start, position = position, position + len(token)
        entry = {"token": token, "logprob": 0.0, "bytes": list(token.encode()), "top_logprobs": []}
        if start <= score_at < position and token.strip() in scores:
            space = token[: len(token) - len(token.lstrip())]
            ranked = sorted(scores.items(), key=lambda kv: -kv[1])[: max(top_n, 1)]
            entry["logprob"] = scores[token.strip()]
            entry["top_logprobs"] = [
                {"token": space + t, "logprob": lp, "bytes": list((space + t).encode())}
                for t, lp in ranked
            ]
        elif top_n:
            entry["top_logprobs"] = [
                {"token": token, "logprob": 0.0, "bytes": list(token.encode())}
            ]
        content.append(entry)
    return content


def completion(request_body: dict[str, Any]) -> dict[str, Any]:
    """A full chat.completion response object for a request body."""
    text = respond(request_body)
    prompt_tokens = sum(count_tokens(m["content"]) + 4 for m in _messages(request_body))
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "stop",
        "logprobs": {"content": _logprobs_content(text, request_body)}
        if request_body.get("logprobs")
        else None,
    }
    return {
        "id": "chatcmpl-demo-" + hashlib.sha256(text.encode()).hexdigest()[:20],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(request_body.get("model", "demo")),
        "system_fingerprint": "fp_demo_model",
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": count_tokens(text),
            "total_tokens": prompt_tokens + count_tokens(text),
        },
    }


def serve(port: int = 8765, *, simulate_latency: bool = False) -> None:
    """Serve the stand-in on 127.0.0.1 only; ``simulate_latency`` sleeps simulated_latency_ms."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if not self.path.rstrip("/").endswith("/chat/completions"):
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            body = json.loads(
                self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
            )
            if body.get("stream"):
                return self._send(400, {"error": {"message": "streaming is not supported"}})
            response = completion(body)
            if simulate_latency:
                text = response["choices"][0]["message"]["content"]
                time.sleep(simulated_latency_ms(body, text) / 1000)
            self._send(200, response)

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"demo model listening on http://127.0.0.1:{port}/v1 (Ctrl-C to stop)", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        port = int(argv[argv.index("--port") + 1]) if "--port" in argv else 8765
        serve(port, simulate_latency="--simulate-latency" in argv)
        return 0
    if argv[:1] == ["respond"]:  # a request body on stdin, the reply on stdout
        print(respond(json.load(sys.stdin)))
        return 0
    print(
        "usage: demo_model.py serve [--port N] [--simulate-latency] | respond < body.json",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
