"""Summary text without services: sentences, the cut at max_chars, traits, purposes."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.schemas import ASH_TRAITS
from pipeline.summaries import purposes, traits, writing

SENTENCES = [
    "User: Ash Lewis, founder and CEO at Fastino.",
    "Notes: Founder/engineer; prefers concise comms.",
    "Time zone America/Los_Angeles, locale en-US.",
    "Online: GitHub ash-lewis, Twitter @ash_csx, https://ash.example.com.",
    "I do my best work in deep-focus blocks from 9 to 12 PT, so please keep mornings free.",
    "Let's keep status updates async in Slack instead of a daily stand-up meeting.",
    "I batch all my 1:1s on Tuesday and Thursday afternoons.",
]


def test_split_sentences_keeps_hard_wrapped_sentences_whole() -> None:
    text = (
        "Hi Maya,\n\nFollowing up on the Q3 budget. Could you send the\n"
        "latest numbers by Friday? Thanks!\n- first point here\n- second point"
    )
    assert writing.split_sentences(text) == [
        "Hi Maya,",
        "Following up on the Q3 budget.",
        "Could you send the latest numbers by Friday?",
        "Thanks!",
        "first point here",
        "second point",
    ]


@pytest.mark.parametrize(
    ("raw", "fact"),
    [
        ("lol ok", None),
        ("Thanks!", None),
        ("Hi Maya,", None),
        ("the dentist moved to tuesday at 8", "The dentist moved to tuesday at 8."),
        (
            "Reminder: renew the insurance before November:",
            "Reminder: renew the insurance before November.",
        ),
        ("word " * 80, None),
    ],
)
def test_as_fact(raw: str, fact: str | None) -> None:
    assert writing.as_fact(raw) == fact


def test_compose_never_exceeds_max_chars_and_cuts_between_sentences() -> None:
    rng = random.Random(7)
    pool = SENTENCES + [f"Fact {i} is {'quite ' * rng.randint(1, 45)}true." for i in range(60)]
    for max_chars in range(50, 5001, 7):
        sentences = rng.sample(pool, k=len(pool))
        text = writing.compose(sentences, max_chars)
        assert 0 < len(text) <= max_chars
        # Whole sentences only: the text is some of the given sentences, in their order.
        rest = text
        for sentence in sentences:
            if rest.startswith(sentence):
                rest = rest[len(sentence) :].removeprefix(" ")
        assert rest == "", f"{max_chars}: not made of whole sentences: {text!r}"


def test_compose_skips_what_does_not_fit_and_keeps_what_does() -> None:
    text = writing.compose(["A short first one.", "x" * 60 + ".", "Short last one."], 50)
    assert text == "A short first one. Short last one."


def test_a_first_sentence_longer_than_max_chars_is_cut_at_a_word() -> None:
    text = writing.compose(["User: " + "Bartholomew " * 8 + "Lewis."], 50)
    assert len(text) <= 50
    assert text.endswith("…")
    assert re.fullmatch(r"User:( Bartholomew)+…", text)


def test_traits_sentences_do_not_depend_on_key_order() -> None:
    shuffled = dict(reversed(list(ASH_TRAITS.items())))
    groups = purposes.REGISTRY["general"].traits
    assert traits.sentences(ASH_TRAITS, "u", groups) == traits.sentences(shuffled, "u", groups)
    assert traits.digest(ASH_TRAITS) == traits.digest(shuffled)
    assert traits.sentences(ASH_TRAITS, "u", groups) == [
        "User: Ash Lewis.",
        "Notes: Founder/engineer; prefers concise comms.",
        "Time zone America/Los_Angeles, locale en-US.",
        "Online: GitHub ash-lewis, Twitter @ash_csx, "
        "LinkedIn https://www.linkedin.com/in/ashlewis, "
        "https://ash.example.com, https://fastino.ai.",
    ]


def test_traits_never_echo_contact_details_and_fall_back_to_the_user_id() -> None:
    said = traits.sentences(
        {"email": "a@b.c", "phone": "+1 555", "team": "Platform"}, "usr_1", ("name", "other")
    )
    assert said == ["User: usr_1.", "Team: Platform."]


def test_purposes_resolve_known_names_and_free_text() -> None:
    assert purposes.resolve("Work_Style").key == "work-style"
    assert purposes.resolve(" schedule context ").key == "schedule-context"
    focus = purposes.resolve("Travel  plans for Q4")
    assert not focus.known
    assert focus.key == "travel plans for q4"
    assert focus.queries == ("travel plans for q4",)
    assert focus.keywords == ("travel", "plans")
    assert set(purposes.REGISTRY) == {
        "general",
        "persona",
        "work-style",
        "decision-style",
        "preferences",
        "schedule-context",
        "communication-style",
    }


def test_keywords_match_word_starts_and_short_words_exactly() -> None:
    schedule = purposes.REGISTRY["schedule-context"]
    assert purposes.keyword_hits(schedule, "Meetings at 9 am on Monday") == 3
    assert purposes.keyword_hits(schedule, "An amazing amount") == 0
