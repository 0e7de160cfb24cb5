"""What each summary purpose looks for.

A purpose is the lens a summary is written through. The known ones say, as
data, which questions their facts should answer (query phrases, embedded and
compared with the user's chunk vectors), which words mark a relevant sentence
(keywords, matched as word prefixes so "prefer" finds "preferred"), and which
traits of the profile belong in the summary. Any other purpose string is a
free-text focus: its own words are the query and the keywords.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT = "general"
KEYWORD_RATIO = 0.35

# Trait groups, rendered by `traits.sentences` in this order.
NAME, ROLE, NOTES, PLACE, HANDLES, OTHER = "name", "role", "notes", "place", "handles", "other"


@dataclass(frozen=True)
class Purpose:
    key: str  # the normalized purpose: a registry name, or the free text lower-cased
    known: bool
    about: str  # what the summary is for, in words (documentation and the LLM prompt)
    queries: tuple[str, ...]
    keywords: tuple[str, ...]
    traits: tuple[str, ...]
    # A fact counts when its relevance (best cosine to a query phrase) reaches both
    # `min_relevance` and `keep_ratio` of the best fact's; one that uses the purpose's
    # words needs only half the floor and `KEYWORD_RATIO` of the best.
    min_relevance: float
    keep_ratio: float


def _purpose(
    key: str,
    about: str,
    queries: tuple[str, ...],
    keywords: str,
    traits: tuple[str, ...],
    min_relevance: float = 0.12,
    keep_ratio: float = 0.6,
) -> Purpose:
    words = tuple(keywords.split())
    return Purpose(key, True, about, queries, words, traits, min_relevance, keep_ratio)


REGISTRY: dict[str, Purpose] = {
    p.key: p
    for p in (
        _purpose(
            "general",
            "a balanced overview of who the user is, what they do and what matters to them",
            (
                "who I am: my name, my job and where I live",
                "what I like, prefer and care about",
                "my work, projects and responsibilities",
                "my schedule, routine and upcoming plans",
                "people in my life: family, friends and colleagues",
            ),
            "prefer like love favorite always never usually work job role team project "
            "meeting schedule family friend live based",
            (NAME, ROLE, NOTES, PLACE, HANDLES, OTHER),
            min_relevance=0.1,
            keep_ratio=0.3,
        ),
        _purpose(
            "persona",
            "who the user is: background, role, personality, values and interests",
            (
                "my background, profession, role and identity",
                "my personality, values and what I care about",
                "my hobbies, interests and what I do for fun",
                "my family and relationships",
            ),
            "founder engineer manager designer background grew studied hobby hobbies "
            "interest enjoy love passion value family",
            (NAME, ROLE, NOTES, PLACE, HANDLES, OTHER),
            keep_ratio=0.5,
        ),
        _purpose(
            "work-style",
            "how the user works: focus time, meetings, async habits, tools and rhythm",
            (
                "how I like to work: deep focus blocks, async, meetings",
                "my working hours and productivity habits",
                "my role and responsibilities at work",
                "tools and processes I use at work",
                "how I review work and give feedback",
            ),
            "focus deep async meeting meetings block batch work working hours productive "
            "standup stand-up sync review deadline tool process",
            (NAME, ROLE, NOTES, PLACE),
        ),
        _purpose(
            "decision-style",
            "how the user makes decisions: priorities, trade-offs, risk and who they consult",
            (
                "how I make decisions and weigh trade-offs",
                "what I prioritize when choosing between options",
                "we decided, we agreed, I chose",
                "my approach to risk, data and evidence",
            ),
            "decide decided decision agreed agree chose choose priority prioritize "
            "trade-off tradeoff risk data evidence approve sign pick unless compare",
            (NAME, ROLE, NOTES),
            # The model tells decisions from other facts poorly: the words must say it.
            min_relevance=0.2,
        ),
        _purpose(
            "preferences",
            "what the user likes and dislikes: food, travel, tools, habits and choices",
            (
                "I prefer, I like, I love, my favorite",
                "I dislike, I avoid, I never, I hate",
                "food, travel, seating and shopping preferences",
            ),
            "prefer like love favorite favourite enjoy dislike hate avoid never always "
            "instead rather allergic vegetarian vegan seat",
            (NAME, NOTES, PLACE),
        ),
        _purpose(
            "schedule-context",
            "the user's time: time zone, working hours, recurring meetings, upcoming plans",
            (
                "my calendar: meetings, appointments and deadlines",
                "when I am available: working hours and time zone",
                "upcoming events, trips and plans this week",
            ),
            "meeting calendar appointment schedule scheduled deadline tomorrow today "
            "monday tuesday wednesday thursday friday saturday sunday week morning "
            "afternoon evening am pm noon stand-up standup sync call available busy "
            "trip flight travel moved move reschedule",
            (NAME, PLACE),
        ),
        _purpose(
            "communication-style",
            "how to talk to the user: channels, tone, length and response habits",
            (
                "how I like to communicate: email, chat or calls",
                "the tone and length of my messages: concise, detailed, formal, casual",
                "how fast I reply and which channel I prefer",
            ),
            "email chat slack call calls message messages reply respond concise brief short "
            "detailed formal casual tone async channel text",
            (NAME, NOTES, PLACE, HANDLES),
        ),
    )
}

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")
_STOPWORDS = (
    "a an and are as at be by for from how i in is it its me my of on or our that the "
    "their them they this to was we what when where which who why with you your about "
    "user users summary summaries"
)
STOPWORDS = frozenset(_STOPWORDS.split())


def normalize(purpose: str) -> str:
    """One spelling per purpose: trimmed, single spaces, lower case; `Work_Style` and
    `work style` name the registry's `work-style`."""
    text = " ".join(purpose.split()).lower()
    dashed = re.sub(r"[\s_]+", "-", text)
    return dashed if dashed in REGISTRY else text


def words(text: str) -> list[str]:
    """Lower-case word tokens, as keywords are matched against them."""
    return _WORD.findall(text.lower())


def resolve(purpose: str) -> Purpose:
    """The registry's purpose, or a free-text focus built from the words given."""
    key = normalize(purpose)
    if key in REGISTRY:
        return REGISTRY[key]
    keywords = tuple(dict.fromkeys(w for w in words(key) if w not in STOPWORDS and len(w) > 2))
    return Purpose(
        key=key,
        known=False,
        about=f"what the user's data says about: {key}",
        queries=(key,),
        keywords=keywords,
        traits=(NAME, ROLE, NOTES),
        min_relevance=0.15,
        keep_ratio=0.6,
    )


def keyword_hits(purpose: Purpose, text: str) -> int:
    """How many of the purpose's keywords occur in `text`, each counted once: a keyword of
    four letters or more matches the words it begins ("prefer": "preferred"), a shorter
    one only itself ("am" is not "amazing")."""
    tokens = set(words(text))
    return sum(
        1
        for k in purpose.keywords
        if k in tokens or (len(k) > 3 and any(t.startswith(k) for t in tokens))
    )
