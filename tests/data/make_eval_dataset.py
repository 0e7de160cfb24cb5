"""Make `eval/memories.json` and `eval/questions.json`: the labeled memories `make eval` asks.

How it was made: this script, run once with `python tests/data/make_eval_dataset.py`
(no arguments, standard library only, `random.Random(SEED)`), writes both files; the
same script gives the same bytes, so re-run it only when the families below change
and commit what it writes. `tests/test_eval_dataset.py` checks the labels hold.

Six synthetic people, each with their own friends, colleagues, family and habits,
live six months (2025-02-01 to 2025-07-31) of chats, emails, calendar entries and
notes. Their memories are of three sorts:

- answer events: one fact family at a time (a flight booking, a door code, a move, a
  preference...) writes the event or the two events that hold an answer, and the
  question about it with the event ids that answer it;
- distractors written by the same family: the same topic with other people, places or
  numbers (the other flight, a friend's taste, the contract still stuck in legal), so
  that the nearest event by topic is often the wrong one; and a family a person lives
  more than once (flights, friends' door codes, orders, tickets) is written two or three
  times with other entities, only one copy being asked about;
- filler: everyday chatter that shares the user's people, places and projects.

Question kinds: `single` (one event states it), `when` (the answer is the event's
date, which its text does not say: only its timestamp does), `multi` (two events: one
names the bridge, the other holds the answer; both are labeled), `preference` (what the
user likes or avoids, stated in the first person), and `none` (nothing holds the answer,
though the topic is near: labeled with no event). Each family has several question
phrasings, some sharing the rare words of the event (names, codes), some paraphrases
with few words in common, drawn at random, so neither lexical nor dense matching wins
everywhere.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 20250201
OUT = Path(__file__).with_name("eval")
START = datetime(2025, 2, 1, tzinfo=UTC)
DAYS = 181  # to 2025-07-31
EVENTS_PER_USER = 520

# fmt: off
FIRST = [
    "Maya", "Ravi", "Chen", "Lucia", "Tomasz", "Amara", "Jonas", "Sofia", "Kenji", "Priya",
    "Oskar", "Leila", "Mateo", "Ingrid", "Dev", "Hana", "Felix", "Nadia", "Bruno", "Ayesha",
    "Pieter", "Camila", "Yusuf", "Greta", "Arjun", "Mei", "Diego", "Freya", "Kwame", "Elif",
    "Santiago", "Noor", "Henrik", "Zara", "Emeka", "Ines", "Viktor", "Rosa", "Tariq", "Lena",
    "Marco", "Aiko", "Hugo", "Sunita", "Pavel", "Chiara", "Olu", "Astrid", "Rafael", "Yara",
]
SURNAMES = [
    "Okafor", "Lindqvist", "Moreau", "Takahashi", "Brennan", "Castellanos", "Novak", "Haddad",
    "Fitzgerald", "Oyelaran", "Rossi", "Kowalczyk", "Delacroix", "Nakamura", "Abernathy",
    "Vasquez", "Petrov", "Achterberg", "Mbeki", "Salonen", "Quintero", "Whitlock", "Iyer",
    "Gallagher", "Szabo", "Ferreira", "Holmberg", "Adeyemi", "Marchetti", "Vance",
]
CITIES = [
    "Lisbon", "Porto", "Berlin", "Copenhagen", "Edinburgh", "Marseille", "Kraków", "Vienna",
    "Seville", "Rotterdam", "Bologna", "Tallinn", "Ljubljana", "Valencia", "Gothenburg",
    "Dublin", "Lyon", "Bruges", "Tbilisi", "Reykjavík", "Split", "Naples", "Oslo", "Zurich",
]
STREETS = [
    "Rua das Flores", "Calle Mayor", "Oranienstraße", "Rosenvængets Allé", "Dean Street",
    "Via Zamboni", "Korzo", "Baker Lane", "Elmwood Avenue", "Quai des Célestins",
    "Kastanienallee", "Linden Road", "Carrer de Verdi", "Mill Street", "Prinsengracht",
    "Harbour Row", "Ulica Floriańska", "Keizerstraat", "Birch Terrace", "Calle Feria",
]
RESTAURANTS = [
    "Tasca do Chico", "Osteria Bellini", "Mama Kin", "Noma Annex", "The Gilded Fig",
    "Bar Tomate", "Kiln", "Sakura Tei", "El Xampanyet", "Brasserie Lutèce", "Dishoom",
    "Tapas Lolita", "Ramen Ikki", "Le Petit Zinc", "Trattoria Sostanza", "Casa Lupita",
    "Pho Saigon", "The Copper Kettle", "Mezze Palace", "Burrito Loco",
]
CUISINES = [
    "Portuguese", "Italian", "Ethiopian", "Nordic", "Georgian", "Sichuan", "Korean",
    "Lebanese", "Peruvian", "Vietnamese", "Basque", "Mexican",
]
CLIENTS = [
    "Halvorsen Logistics", "Brightwater Foods", "Kelpie Insurance", "Northwind Traders",
    "Verdant Energy", "Mosaic Health", "Orchard Bank", "Tidewell Shipping", "Quillon Pharma",
    "Larkspur Retail", "Cobalt Mining", "Fennimore Labs", "Sable Telecom", "Juniper Airlines",
    "Ashgrove Dairy", "Pemberton Legal", "Rivulet Water", "Stonebridge Capital", "Tessera Games",
    "Umbra Security", "Wexford Textiles", "Yarrow Organics", "Zenith Freight", "Albatross Media",
    "Birchfield Hotels", "Calloway Motors", "Driftwood Studios", "Ember Solar", "Gantry Cranes",
]
CODENAMES = [
    "Kestrel", "Marzipan", "Quokka", "Bluefin", "Tamarind", "Obsidian", "Foxglove", "Zephyr",
    "Halcyon", "Juniper", "Marigold", "Basilisk", "Cormorant", "Wombat", "Sextant", "Lantern",
    "Pangolin", "Meridian", "Tinderbox", "Gossamer", "Nightjar", "Bramble", "Cuttlefish",
    "Ptarmigan",
]
PROJECTS = ["OPS", "WEB", "DATA", "PAY", "MOB"]
ORDER_ITEMS = [
    "a cordless drill", "two linen pillowcases", "a cast-iron skillet", "running socks (x6)",
    "a Raspberry Pi 5", "a yoga mat", "printer toner", "a kids' bike helmet", "a French press",
    "noise-cancelling earbuds", "a desk lamp", "a hiking backpack",
]
BUGS = [
    "login fails on Safari when 2FA is on", "CSV export drops the last row",
    "timeouts on the invoices endpoint", "dark mode breaks the date picker",
    "duplicate emails after a password reset", "search ignores accented characters",
    "the PDF receipt shows the wrong VAT", "push notifications arrive twice on Android",
    "the onboarding tour never ends", "currency rounding in the refund flow",
]
DOMAINS = ["fastmail.com", "proton.me", "gmail.com", "outlook.com"]
AIRLINES = ["TAP", "Lufthansa", "KLM", "Iberia", "SAS", "Ryanair", "easyJet", "Aer Lingus"]
BOOKS = [
    ("The Overstory", "Richard Powers"), ("Piranesi", "Susanna Clarke"),
    ("Tomorrow, and Tomorrow, and Tomorrow", "Gabrielle Zevin"),
    ("The Ministry for the Future", "Kim Stanley Robinson"),
    ("Klara and the Sun", "Kazuo Ishiguro"),
    ("Braiding Sweetgrass", "Robin Wall Kimmerer"), ("The Dispossessed", "Ursula K. Le Guin"),
    ("Project Hail Mary", "Andy Weir"), ("Pachinko", "Min Jin Lee"),
    ("Sapiens", "Yuval Noah Harari"), ("The Remains of the Day", "Kazuo Ishiguro"),
    ("Stoner", "John Williams"), ("Lincoln in the Bardo", "George Saunders"),
]
BANDS = [
    "Khruangbin", "Fontaines D.C.", "Little Simz", "Big Thief", "Nils Frahm", "Rosalía",
    "King Gizzard", "Arooj Aftab", "Floating Points", "Wet Leg", "Bonobo", "Mdou Moctar",
]
PETS = [("dog", "Biscuit"), ("cat", "Mochi"), ("dog", "Pepper"), ("cat", "Ziggy"),
        ("dog", "Olive"), ("cat", "Nutmeg")]
MEDS = ["Apoquel", "Metacam", "Vetmedin", "Gabapentin", "Cerenia", "Thyronorm"]
INSURERS = ["Allianz", "Zurich", "Aviva", "Mapfre", "Generali", "AXA"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = ["8:30", "9 AM", "10:15", "11:30", "noon", "1 PM", "2:45 PM", "4 PM", "6:30 PM", "7:45 PM"]
TOPICS = [
    "Q2 roadmap", "hiring plan", "launch checklist", "board deck", "API migration",
    "budget review", "design critique", "offsite agenda", "security audit", "pricing page",
    "data retention policy", "onboarding revamp", "vendor contract", "incident postmortem",
]
PLACES = [
    "the Mission office", "the co-working on 5th", "Café Nero", "the climbing gym",
    "the farmers market", "the library", "the park by the river", "the old town",
]
# fmt: on


def pools() -> dict[str, list]:
    return {
        "first": FIRST,
        "surname": SURNAMES,
        "city": CITIES,
        "street": STREETS,
        "restaurant": RESTAURANTS,
        "cuisine": CUISINES,
        "client": CLIENTS,
        "codename": CODENAMES,
        "book": BOOKS,
        "band": BANDS,
        "med": MEDS,
        "insurer": INSURERS,
        "topic": TOPICS,
    }


@dataclass
class User:
    user_id: str
    name: str
    home: str
    job: str
    employer: str
    rng: random.Random
    people: dict[str, list[str]] = field(default_factory=dict)
    partner: str = ""
    kid: str | None = None
    pet: tuple[str, str] | None = None
    events: list[dict] = field(default_factory=list)
    questions: list[dict] = field(default_factory=list)
    taken: dict[str, list] = field(default_factory=dict)

    # --- drawing ---------------------------------------------------------------
    def pick(self, options: list):
        return self.rng.choice(options)

    def take(self, pool: str):
        """A value of `pool` this user has not had yet, so two facts never share it."""
        used = self.taken.setdefault(pool, [])
        left = [v for v in pools()[pool] if v not in used]
        if not left:
            raise ValueError(f"pool {pool!r} is too small for the families that draw from it")
        value = self.rng.choice(left)
        used.append(value)
        return value

    def distinct(self, key: str, options: list):
        """A value of `options` not yet drawn under `key`: two copies of one family never
        share the entity that tells their questions apart."""
        used = self.taken.setdefault(key, [])
        value = self.rng.choice([v for v in options if v not in used])
        used.append(value)
        return value

    def friend(self) -> str:
        return self.pick(self.people["friends"])

    def colleague(self) -> str:
        return self.pick(self.people["colleagues"])

    def code(self, letters: int = 3, digits: int = 3) -> str:
        abc = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        chars = [self.pick(abc) for _ in range(letters)] + [
            str(self.rng.randrange(10)) for _ in range(digits)
        ]
        self.rng.shuffle(chars)
        return "".join(chars)

    def at(self, lo: float = 0.0, hi: float = 1.0) -> datetime:
        """A waking-hours moment between fractions `lo` and `hi` of the six months."""
        day = self.rng.randrange(int(lo * DAYS), max(int(hi * DAYS), int(lo * DAYS) + 1))
        minute = self.rng.randrange(7 * 60, 23 * 60)
        return START + timedelta(days=day, minutes=minute)

    # --- writing ---------------------------------------------------------------
    def add(self, kind: str, text: str, ts: datetime | None = None, source: str = "") -> int:
        source = (
            source
            or {
                "message": self.pick(["whatsapp", "whatsapp", "imessage"]),
                "work": "slack",
                "email": "gmail",
                "calendar": "gcal",
                "note": "notes",
            }[kind]
        )
        self.events.append(
            {
                "type": "message" if kind == "work" else kind,
                "source": source,
                "timestamp": ts or self.at(),
                "content": text,
            }
        )
        return len(self.events) - 1

    def ask(self, kind: str, question: str, answer: str, refs: list[int]) -> None:
        self.questions.append({"kind": kind, "question": question, "answer": answer, "refs": refs})


Family = Callable[[User], None]


def day(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%d")


# =============================================================================
# single: one event states the answer
# =============================================================================


def flight(u: User) -> None:
    dest, other = u.take("city"), u.take("city")
    air = u.pick(AIRLINES)
    ref = u.code(4, 2)
    dep = u.pick(WEEKDAYS)
    e = u.add(
        "email",
        f"Your booking is confirmed. {air} flight {u.pick(['TP', 'LH', 'KL', 'IB'])}"
        f"{u.rng.randrange(100, 999)} to {dest}, departing {dep} at {u.pick(TIMES)}. "
        f"Booking reference: {ref}. Please have your passport ready at the gate.",
    )
    u.add(
        "email",
        f"Booking confirmed: {u.pick(AIRLINES)} to {other}. Your booking reference is "
        f"{u.code(4, 2)}. Seat selection opens 48 hours before departure.",
    )
    u.add("message", f"flights to {dest} went up again, glad I booked already")
    u.add("message", f"{u.friend()} wants us to do {other} in the autumn too")
    q = u.pick(
        [
            f"What's the booking reference for my flight to {dest}?",
            f"Which confirmation code do I need at check-in for the {dest} trip?",
            f"I need the PNR for the {dest} flight, what was it?",
        ]
    )
    u.ask("single", q, ref, [e])


def wifi(u: User) -> None:
    friend = u.distinct("wifi", u.people["friends"])
    other = u.pick([f for f in u.people["friends"] if f != friend])
    pw = (
        u.pick(["sunflower", "tortilla", "pelican", "moonrise", "gingko"])
        + str(u.rng.randrange(10, 99))
        + u.pick(["!", "#", "?", ""])
    )
    e = u.add(
        "message",
        f"wifi here is {friend}Home_5G, pw {pw} (the router is behind the TV if it drops)",
        source="whatsapp",
    )
    u.add(
        "note",
        f"Office guest network: Guest-{u.employer.split()[0]}, password changes monthly, "
        "ask reception",
    )
    u.add(
        "message",
        f"{other} says their internet has been terrible all week, cable guy coming Thursday",
    )
    q = u.pick(
        [
            f"What's the wifi password at {friend}'s place?",
            f"How do I get online when I'm staying with {friend}?",
            f"{friend}'s network key?",
        ]
    )
    u.ask("single", q, pw, [e])


def door_code(u: User) -> None:
    f = u.distinct("door_code", u.people["friends"])
    code = f"{u.rng.randrange(1000, 9999)}#"
    e = u.add(
        "message",
        f"{f}: buzzer's broken, just punch {code} on the keypad and come up to "
        f"the {u.pick(['3rd', '4th', '5th'])} floor",
    )
    u.add("message", f"{u.friend()} moved the spare key to under the blue pot btw")
    u.add("note", "Gym locker combination is written inside the blue notebook, not here")
    q = u.pick(
        [
            f"What's the door code for {f}'s building?",
            f"How do I get into {f}'s apartment block if nobody answers?",
            f"keypad number at {f}'s",
        ]
    )
    u.ask("single", q, code, [e])


def dentist(u: User) -> None:
    doc, old = u.take("surname"), u.take("surname")
    street = u.take("street")
    e = u.add(
        "note",
        f"New dentist: Dr. {doc}, practice on {street}. Much nicer than the old "
        "place, and they open Saturdays.",
    )
    u.add("calendar", f"Dentist - check-up and cleaning (Dr. {old})")
    u.add("message", f"{u.friend()} recommended her orthodontist but it's way across town")
    q = u.pick(
        [
            "Who is my new dentist?",
            "What's the name of the person who looks after my teeth now?",
            f"Which dentist on {street} did I switch to?",
        ]
    )
    u.ask("single", q, f"Dr. {doc}", [e])


def book_rec(u: User) -> None:
    f = u.distinct("book_rec", u.people["friends"])
    (title, author), (t2, a2) = u.take("book"), u.take("book")
    e = u.add(
        "message",
        f"{f}: you HAVE to read {title} by {author}, I finished it in two days, you'll love it",
    )
    u.add("message", f"finally started {t2} ({a2}), slow first chapter")
    u.add("note", f"Books to return to the library: {u.pick(BOOKS)[0]}, {t2}")
    q = u.pick(
        [
            f"Which book did {f} tell me to read?",
            f"What novel was {f} so excited about?",
            f"{f}'s book recommendation?",
        ]
    )
    u.ask("single", q, f"{title} by {author}", [e])


def revenue(u: User) -> None:
    quarter = u.distinct("quarter", ["Q1", "Q2", "Q3", "Q4"])
    other = u.pick([q for q in ["Q1", "Q2", "Q3", "Q4"] if q != quarter])
    amount = f"€{u.rng.randrange(2, 19)}.{u.rng.randrange(1, 9)}M"
    pct = u.rng.randrange(3, 18)
    boss = u.people["manager"][0]
    e = u.add(
        "email",
        f"From {boss}: Team, {quarter} closed at {amount} in revenue, {pct}% above "
        "plan. Thank you all, drinks on Friday.",
    )
    u.add(
        "email",
        f"From finance: the {other} forecast is {u.rng.randrange(2, 19)}.0M, "
        "please send your pipeline updates by end of week.",
    )
    u.add("work", f"anyone know if the {quarter} numbers include the Nordics deal?")
    q = u.pick(
        [
            f"How much revenue did we close in {quarter}?",
            f"What did {boss} say our {quarter} sales came to?",
            f"How did the company do last {quarter}, in money terms?",
        ]
    )
    u.ask("single", q, amount, [e])


def codename(u: User) -> None:
    client, other = u.take("client"), u.take("client")
    name, oname = u.take("codename"), u.take("codename")
    e = u.add(
        "work",
        f"heads up: the {client} migration is officially called Project {name} "
        "from now on, please use that in tickets",
        source="slack",
    )
    u.add("work", f"{other} kickoff went fine, internally we call it {oname}", source="slack")
    u.add("email", f"{client} asked for the invoice to be split across two cost centres.")
    q = u.pick(
        [
            f"What's the code name for the {client} project?",
            f"What do we call the {client} migration internally?",
            f"Project name in tickets for {client}?",
        ]
    )
    u.ask("single", q, name, [e])


def pet_med(u: User) -> None:
    if not u.pet:
        return
    kind, pet = u.pet
    med = u.take("med")
    dose = u.pick(["2.5", "5", "10", "16", "0.5"])
    e = u.add("note", f"Vet says {pet} gets {med} {dose} mg twice a day with food, for three weeks")
    u.add("message", f"{pet} threw up on the rug again 🙄")
    u.add("calendar", f"Vet: {pet} annual check")
    q = u.pick(
        [
            f"What dose of {med} is {pet} on?",
            f"How much medicine does the {kind} get?",
            f"how many mg for {pet}'s pills",
        ]
    )
    u.ask("single", q, f"{med} {dose} mg twice a day", [e])


def plumber(u: User) -> None:
    who = u.take("first")
    things = ["boiler valve", "kitchen tap", "shower mixer", "toilet cistern", "radiator"]
    thing = u.distinct("plumber", things)
    other = u.pick([t for t in things if t != thing])
    amount = f"€{u.rng.randrange(90, 900)}"
    e = u.add(
        "message",
        f"{who} the plumber came by, wants {amount} to replace the {thing}. Seems steep?",
        source="whatsapp",
    )
    u.add("note", f"The {other} is dripping again, get quotes")
    u.add("message", f"{u.partner}: did anyone call about the {thing} yet?")
    q = u.pick(
        [
            f"How much did the plumber quote for the {thing}?",
            f"What's it going to cost to fix the {thing}?",
            f"{who}'s price for the repair?",
        ]
    )
    u.ask("single", q, amount, [e])


def rent(u: User) -> None:
    amount = u.rng.randrange(900, 2400)
    e = u.add(
        "email",
        f"Dear tenant, in line with the index your monthly rent will be {amount} "
        f"euros from {u.pick(['June', 'July', 'August'])}. Kind regards, "
        f"{u.take('surname')} Property Management",
    )
    u.add(
        "message",
        f"{u.friend()} pays {amount - u.rng.randrange(50, 300)} for a bigger place, I'm so jealous",
    )
    u.add("note", "Budget: groceries 450, transport 90, savings 300")
    q = u.pick(
        [
            "What will my rent be after the increase?",
            "How much is the landlord charging me per month now?",
            "new monthly rent amount?",
        ]
    )
    u.ask("single", q, f"{amount} euros", [e])


def insurance(u: User) -> None:
    ins, other = u.take("insurer"), u.take("insurer")
    policy = f"{ins[:2].upper()}-{u.rng.randrange(100000, 999999)}"
    e = u.add(
        "email",
        f"{ins}: welcome! Your motor policy {policy} is active. Keep this number for any claim.",
    )
    u.add("email", f"{other}: your home contents quote is ready, valid for 30 days.")
    u.add("note", "Car: tyres need checking before the summer trip")
    q = u.pick(
        [
            "What's my car insurance policy number?",
            f"Which policy number do I quote to {ins} if I have an accident?",
            "number to give if I need to claim on the car",
        ]
    )
    u.ask("single", q, policy, [e])


def teacher(u: User) -> None:
    if not u.kid:
        return
    t, other = u.take("surname"), u.take("surname")
    e = u.add(
        "message",
        f"{u.kid}'s new teacher is Ms. {t}, she seems lovely, very calm",
        source="whatsapp",
    )
    u.add("email", f"School newsletter: Mr. {other} will run the after-school chess club.")
    u.add("message", f"{u.kid} lost another water bottle at school")
    q = u.pick(
        [
            f"Who is {u.kid}'s teacher this year?",
            "What's the name of my child's class teacher?",
            f"{u.kid} teacher name",
        ]
    )
    u.ask("single", q, f"Ms. {t}", [e])


def room(u: User) -> None:
    topic, other = u.take("topic"), u.take("topic")
    mountain = u.pick(["Atlas", "Everest", "Kilimanjaro", "Fuji", "Denali"])
    r = f"{mountain} ({u.rng.randrange(2, 6)}F)"
    e = u.add("calendar", f"{topic} review - room {r}, bring laptop")
    u.add("calendar", f"{other} review - room {u.pick(['Orion', 'Vega', 'Lyra'])}")
    u.add("work", f"the {topic} doc is a mess, can someone clean up section 3?")
    q = u.pick(
        [
            f"Which room is the {topic} review in?",
            f"Where do we meet for the {topic} discussion?",
        ]
    )
    u.ask("single", q, r, [e])


def shoe_size(u: User) -> None:
    size = u.pick(["38", "39.5", "41", "42.5", "44", "45"])
    e = u.add("note", f"{u.partner}: running shoes size {size} (EU), likes the wide fit")
    u.add("note", "me: jeans 32/32, shirts M")
    u.add("message", f"{u.partner}'s birthday is coming up, ideas??")
    q = u.pick(
        [
            f"What shoe size is {u.partner}?",
            f"If I buy trainers for {u.partner}, which size?",
        ]
    )
    u.ask("single", q, size, [e])


def dish(u: User) -> None:
    rest = u.take("restaurant")
    d = u.pick(
        [
            "octopus with smoked paprika",
            "cacio e pepe",
            "lamb khachapuri",
            "miso black cod",
            "duck confit",
            "burnt basque cheesecake",
            "doro wat",
        ]
    )
    e = u.add("message", f"team dinner at {rest} was great, the {d} was unreal 🤤")
    u.add("message", f"{u.colleague()} says {rest} is overrated, whatever")
    u.add("calendar", f"Team dinner - {u.take('restaurant')}")
    q = u.pick(
        [
            f"What did I love eating at {rest}?",
            f"What was the standout dish at {rest}?",
        ]
    )
    u.ask("single", q, d, [e])


def birthday(u: User) -> None:
    f = u.distinct("birthday", u.people["friends"])
    month = u.pick(["March", "April", "September", "October", "November"])
    n = u.rng.randrange(2, 28)
    e = u.add("note", f"{f}'s birthday: {month} {n}. Likes gin and anything with cats on it.")
    u.add("message", f"happy birthday {u.friend()}!!! 🎉 have the best day")
    q = u.pick(
        [
            f"When is {f}'s birthday?",
            f"What day should I send {f} a card?",
        ]
    )
    u.ask("single", q, f"{month} {n}", [e])


def bike(u: User) -> None:
    code = f"{u.rng.randrange(100, 999)}"
    shop = u.pick(["Velo Corner", "Spoke & Chain", "Pedal Pushers"])
    e = u.add("note", f"bike lock combo {code}, same as the shed")
    u.add("message", f"{shop} says the bike service is done, €{u.rng.randrange(40, 120)}")
    u.add("note", "tyre pressure road bike: 90 psi")
    q = u.pick(
        [
            "What's the combination for my bike lock?",
            "How do I open the shed?",
            "bike lock code",
        ]
    )
    u.ask("single", q, code, [e])


def parking(u: User) -> None:
    level = u.rng.randrange(1, 7)
    spot = f"{u.pick('ABCDEFG')}{u.rng.randrange(10, 99)}"
    e = u.add("note", f"airport long-stay: level {level}, bay {spot}, near the lifts")
    u.add("note", "parked on the street by the bakery")
    u.add("message", f"{u.partner}: where did you leave the car at the mall?")
    q = u.pick(
        [
            "Where did I park at the airport?",
            "Which level and bay did I leave the car in for the trip?",
        ]
    )
    u.ask("single", q, f"level {level}, bay {spot}", [e])


def salary(u: User) -> None:
    boss = u.people["manager"][0]
    pct = u.rng.randrange(3, 12)
    e = u.add(
        "email",
        f"From {boss}: happy to confirm your raise of {pct}% effective next month, well deserved.",
    )
    u.add(
        "message",
        f"{u.friend()} got a {pct + u.rng.randrange(1, 5)}% raise and won't stop talking about it",
    )
    u.add("calendar", f"Performance review with {boss}")
    q = u.pick(
        [
            "How big was my raise?",
            f"What percentage increase did {boss} confirm?",
            "How much did my pay go up this year?",
        ]
    )
    u.ask("single", q, f"{pct}%", [e])


def order(u: User) -> None:
    num = u.rng.randrange(100000, 999999)
    item = u.distinct("order", ORDER_ITEMS)
    e = u.add(
        "email",
        f"Order #{num} confirmed: {item}. Estimated delivery {u.pick(WEEKDAYS)}. "
        "Track your parcel in the app.",
    )
    u.add("email", f"Your order #{u.rng.randrange(100000, 999999)} has been delivered.")
    u.ask(
        "single",
        u.pick([f"What did I buy in order #{num}?", f"order {num}, what was in it?"]),
        item,
        [e],
    )


def ticket(u: User) -> None:
    key = f"{u.pick(PROJECTS)}-{u.rng.randrange(100, 2999)}"
    bug = u.distinct("ticket", BUGS)
    e = u.add("work", f"picked up {key}: {bug}. Repro steps in the ticket.", source="slack")
    u.add("work", f"{u.colleague()} is looking at {u.pick(PROJECTS)}-{u.rng.randrange(100, 2999)}")
    u.ask(
        "single",
        u.pick([f"What is {key} about?", f"Remind me what ticket {key} was for"]),
        bug,
        [e],
    )


def contact(u: User) -> None:
    first, surname = u.take("first"), u.take("surname")
    email = f"{first.lower()}.{surname.lower()}@{u.pick(DOMAINS)}"
    e = u.add(
        "note",
        f"{first} {surname} (met at the {u.pick(TOPICS)} meetup, works on payments): {email}",
    )
    u.add("note", f"{first} from the meetup - follow up about the intro to {u.colleague()}")
    u.ask(
        "single",
        u.pick([f"What's {surname}'s email address?", f"How do I write to {first} {surname}?"]),
        email,
        [e],
    )


SINGLE: list[Family] = [
    order,
    ticket,
    contact,
    flight,
    wifi,
    door_code,
    dentist,
    book_rec,
    revenue,
    codename,
    pet_med,
    plumber,
    rent,
    insurance,
    teacher,
    room,
    shoe_size,
    dish,
    birthday,
    bike,
    parking,
    salary,
]


# =============================================================================
# when: the event's timestamp is the answer; its text holds no date
# =============================================================================


def _when(
    u: User, kind: str, text: str, distractors: list[tuple[str, str]], questions: list[str]
) -> None:
    ts = u.at(0.05, 0.95)
    e = u.add(kind, text, ts)
    for dkind, dtext in distractors:
        u.add(dkind, dtext)
    u.ask("when", u.pick(questions), day(ts), [e])


def keys(u: User) -> None:
    street, other = u.take("street"), u.take("street")
    _when(
        u,
        "message",
        f"WE GOT THE KEYS!!! {street} is officially home 🏠🔑",
        [
            ("message", f"viewing on {other} was a no, damp everywhere"),
            ("note", "to do for the new place: internet, curtains, spare keys"),
        ],
        [
            f"When did I get the keys to the flat on {street}?",
            "What day did we move into the new place?",
            f"On what date did {street} become home?",
        ],
    )


def driving(u: User) -> None:
    _when(
        u,
        "message",
        "I PASSED!!! first try, the examiner was so strict on the roundabouts",
        [
            ("calendar", "Driving lesson with Mr. Dobbs"),
            ("message", f"{u.friend()} failed her driving test again, poor thing"),
        ],
        ["When did I pass my driving test?", "What day did I get my licence?"],
    )


def contract(u: User) -> None:
    client, other = u.take("client"), u.take("client")
    _when(
        u,
        "work",
        f"contract with {client} is signed 🎉 thanks everyone for pushing it through",
        [
            ("work", f"{client} contract still stuck in legal, they want changes to clause 9"),
            ("work", f"{other} signed too, finally"),
        ],
        [
            f"When did {client} sign the contract?",
            f"What day did the {client} deal close?",
            f"when was the paperwork with {client} done",
        ],
    )


def half_marathon(u: User) -> None:
    city = u.take("city")
    t = f"1:{u.rng.randrange(42, 59)}:{u.rng.randrange(10, 59)}"
    _when(
        u,
        "note",
        f"{city} half marathon done in {t}. Legs destroyed, heart full.",
        [
            ("note", "training run 14 km, easy pace"),
            ("message", f"{u.friend()} signed up for the {city} 10k next year"),
        ],
        [f"When did I run the {city} half marathon?", f"What day was the {city} half?"],
    )


def vaccination(u: User) -> None:
    if not u.pet:
        return
    kind, pet = u.pet
    _when(
        u,
        "message",
        f"{pet} had her jabs today, very brave {kind}, got two treats",
        [
            ("note", f"{pet}: flea treatment due every 4 weeks"),
            ("message", f"vet bill for {pet} was {u.rng.randrange(60, 200)} euros, ouch"),
        ],
        [f"When did {pet} get vaccinated?", f"What date were the {kind}'s shots?"],
    )


def proposal(u: User) -> None:
    grant = u.distinct("grant", ["Horizon", "ERC Starting", "Wellcome Discovery", "Innovate"])
    _when(
        u,
        "email",
        f"Submitted the {grant} proposal. 48 pages, 3 letters of support. Now we wait.",
        [
            ("work", f"{grant} proposal draft v7 is in the shared drive, comments please"),
            ("calendar", f"{grant} proposal writing block"),
        ],
        [
            f"When did I submit the {grant} proposal?",
            f"On which day did the {grant} grant application go in?",
        ],
    )


def haircut(u: User) -> None:
    barber = u.pick(["Fade Factory", "Salon Vert", "Hair by Jo", "The Barber Co"])
    _when(
        u,
        "note",
        f"haircut at {barber}, asked for shorter on the sides. Tip was cash only.",
        [
            ("message", f"{u.friend()} looks totally different with the new haircut"),
            ("note", f"{barber} closed Mondays"),
        ],
        [f"When did I last go to {barber}?", "When was my last haircut?"],
    )


def oil_change(u: User) -> None:
    km = u.rng.randrange(40, 160) * 1000
    _when(
        u,
        "note",
        f"car serviced: oil + filters, odometer at {km:,} km",
        [
            ("note", f"next car service due at {km + 15000:,} km"),
            ("message", f"{u.partner} dinged the car mirror at the supermarket"),
        ],
        ["When was the car last serviced?", "What date did I get the oil changed?"],
    )


def returned(u: User) -> None:
    item = u.distinct(
        "returned",
        [
            "the standing desk",
            "the blue raincoat",
            "the espresso machine",
            "the noise-cancelling headphones",
        ],
    )
    store = u.pick(["IKEA", "Zalando", "MediaMarkt", "Decathlon"])
    _when(
        u,
        "note",
        f"returned {item} to {store}, refund in 5-7 days",
        [
            ("note", f"ordered {item} from {store}"),
            ("message", f"{store} has a sale on this weekend"),
        ],
        [f"When did I return {item}?", f"When did I take {item} back to the shop?"],
    )


def kickoff(u: User) -> None:
    client = u.take("client")
    _when(
        u,
        "calendar",
        f"Kickoff with {client} - intros, scope, timeline",
        [
            ("work", f"{client} wants to move the kickoff, waiting on their PM"),
            ("email", f"{client} sent over their brand guidelines"),
        ],
        [f"When was the {client} kickoff?", f"What day did we first meet {client}?"],
    )


def climbing(u: User) -> None:
    f = u.distinct("climbing", u.people["friends"])
    _when(
        u,
        "message",
        f"first bouldering session with {f}, my forearms are gone 😂",
        [
            ("message", f"{f} wants to try the new climbing gym in the old town"),
            ("note", "climbing shoes: size down one"),
        ],
        [
            f"When did {f} and I first go climbing?",
            f"When was my first bouldering session with {f}?",
        ],
    )


def boiler(u: User) -> None:
    co = u.pick(["HeatWise", "Thermo Plus", "Boilercare"])
    _when(
        u,
        "email",
        f"{co}: your annual boiler service has been completed. Certificate attached.",
        [
            ("email", f"{co}: reminder, book your annual service"),
            ("note", "radiator in the bedroom still cold at the top"),
        ],
        ["When was the boiler serviced?", f"When did {co} come round?"],
    )


def fired_up(u: User) -> None:
    f = u.distinct("fired_up", u.people["friends"])
    _when(
        u,
        "message",
        f"{f} got engaged!!! the ring is gorgeous, we cried on the phone",
        [
            ("message", f"{f} and her partner are looking at venues in the countryside"),
            ("note", f"gift ideas for {f}"),
        ],
        [f"When did {f} get engaged?", f"When did I hear {f}'s big news about the ring?"],
    )


def passport(u: User) -> None:
    _when(
        u,
        "note",
        "new passport arrived in the post, old one has the corner cut off",
        [
            ("note", "passport renewal form: needs two photos and the old passport"),
            ("message", f"{u.partner}'s passport expires next year too"),
        ],
        ["When did my new passport arrive?", "When did I get the renewed passport back?"],
    )


WHEN: list[Family] = [
    keys,
    driving,
    contract,
    half_marathon,
    vaccination,
    proposal,
    haircut,
    oil_change,
    returned,
    kickoff,
    climbing,
    boiler,
    fired_up,
    passport,
]


# =============================================================================
# multi: two events; the question needs the bridge from one to reach the other
# =============================================================================


def recommended_booking(u: User) -> None:
    f = u.distinct("recommended_booking", u.people["friends"])
    rest, cuisine = u.take("restaurant"), u.take("cuisine")
    t = u.pick(TIMES[5:])
    a = u.add(
        "message", f"{f}: if you want proper {cuisine} food go to {rest}, trust me", u.at(0, 0.5)
    )
    b = u.add("note", f"booked {rest} for {u.pick(WEEKDAYS)} at {t}, table for 4", u.at(0.5, 1))
    u.add("message", f"{u.friend()} says {u.take('restaurant')} does the best {cuisine} in town")
    u.ask(
        "multi",
        u.pick(
            [
                f"What time is my reservation at the {cuisine} place {f} recommended?",
                f"When's our table at the restaurant {f} told me about?",
            ]
        ),
        t,
        [a, b],
    )


def manager_ask(u: User) -> None:
    boss = u.take("first") + " " + u.take("surname")
    report = u.pick(["churn analysis", "hiring forecast", "vendor comparison", "latency report"])
    a = u.add(
        "email",
        f"HR: starting Monday your reporting line changes; your new manager is {boss}.",
        u.at(0, 0.5),
    )
    b = u.add(
        "work", f"{boss.split()[0]} wants the {report} before the leadership sync", u.at(0.5, 1)
    )
    u.add("work", f"{u.colleague()} asked for the {report} numbers too, sent her the draft")
    u.ask(
        "multi",
        u.pick(
            [
                "What does my new manager want from me before the leadership sync?",
                "Which document is my new boss waiting for?",
            ]
        ),
        report,
        [a, b],
    )


def moved_city(u: User) -> None:
    f = u.distinct("moved_city", u.people["friends"])
    city = u.take("city")
    wd = u.pick(WEEKDAYS)
    a = u.add("message", f"{f} finally moved to {city}, new job at the university", u.at(0, 0.5))
    b = u.add(
        "email", f"Train tickets: {city}, outbound {wd} 07:12, return Sunday 18:40", u.at(0.5, 1)
    )
    u.add("message", f"{u.friend()} is thinking about moving to {u.take('city')} as well")
    u.ask(
        "multi",
        u.pick(
            [
                f"On which day do I travel to visit the city {f} moved to?",
                f"When am I going to see {f} in her new city?",
            ]
        ),
        f"{wd}",
        [a, b],
    )


def account_owner(u: User) -> None:
    client = u.take("client")
    who = u.take("first")
    phone = (
        f"+{u.pick(['44', '351', '49', '31'])} {u.rng.randrange(100, 999)} "
        f"{u.rng.randrange(100, 999)} {u.rng.randrange(1000, 9999)}"
    )
    a = u.add("work", f"FYI {who} is taking over the {client} account from this week", u.at(0, 0.5))
    b = u.add("note", f"{who} {u.take('surname')} mobile: {phone}", u.at(0.5, 1))
    u.add("note", f"{u.colleague()} mobile: +44 {u.rng.randrange(100, 999)} 000 1111")
    u.ask(
        "multi",
        u.pick(
            [
                f"What's the phone number of whoever runs the {client} account now?",
                f"How do I reach the new owner of {client} by phone?",
            ]
        ),
        phone,
        [a, b],
    )


def lent_item(u: User) -> None:
    f = u.distinct("lent_item", u.people["friends"])
    item = u.distinct("lent", ["tent", "drill", "camera", "projector", "kayak"])
    place = u.take("city")
    a = u.add("note", f"lent the {item} to {f}, get it back before the summer", u.at(0, 0.5))
    b = u.add("message", f"{f}: I'm in {place} until the 20th, back after that!", u.at(0.5, 1))
    u.add("note", f"{u.friend()} still has my umbrella")
    u.ask(
        "multi",
        u.pick(
            [
                f"Where is the person who borrowed my {item}?",
                f"Who has my {item} and where are they right now?",
            ]
        ),
        f"{f}, in {place}",
        [a, b],
    )


def anniversary(u: User) -> None:
    rest = u.take("restaurant")
    street = u.take("street")
    a = u.add("message", f"{u.partner}: anniversary dinner at {rest}? ❤️ yes!", u.at(0, 0.5))
    b = u.add(
        "note",
        f"{rest}: {u.rng.randrange(1, 120)} {street}, ring the bell, dress smart",
        u.at(0.5, 1),
    )
    u.add("note", f"{u.take('restaurant')}: closed Tuesdays, cash only")
    u.ask(
        "multi",
        u.pick(
            [
                "What's the address of the place where we're having our anniversary dinner?",
                f"Where is the anniversary restaurant {u.partner} and I picked?",
            ]
        ),
        street,
        [a, b],
    )


def warranty(u: User) -> None:
    thing = u.distinct("warranty", ["washing machine", "laptop", "fridge", "dishwasher"])
    co = u.pick(["Electrocare", "FixFast", "HomeShield", "TechGuard"])
    phone = f"0800 {u.rng.randrange(100, 999)} {u.rng.randrange(100, 999)}"
    a = u.add(
        "email", f"Receipt: {thing}, 3-year extended warranty provided by {co}.", u.at(0, 0.5)
    )
    b = u.add("note", f"{co} claims line {phone}, have the serial number ready", u.at(0.5, 1))
    u.add("message", f"the {thing} is making that noise again")
    u.ask(
        "multi",
        u.pick(
            [
                f"Which number do I call about the {thing} warranty?",
                f"The {thing} broke, who do I phone for the extended cover?",
            ]
        ),
        phone,
        [a, b],
    )


def coach(u: User) -> None:
    if not u.kid:
        return
    c = u.take("first")
    place = u.pick(["Riverside fields", "the school gym", "Kingsway pitches", "the sports hall"])
    a = u.add(
        "message", f"{u.kid}'s football coach is {c}, lovely guy, ex-pro apparently", u.at(0, 0.5)
    )
    b = u.add(
        "message",
        f"{c}: from next week Wednesday practice moves to {place}, 5pm sharp",
        u.at(0.5, 1),
    )
    u.add("message", f"{u.kid} wants to quit piano, again")
    u.ask(
        "multi",
        u.pick(
            [
                f"Where is {u.kid}'s Wednesday football practice now?",
                "Where do I drop the kid for football on Wednesdays?",
            ]
        ),
        place,
        [a, b],
    )


def codename_deadline(u: User) -> None:
    client = u.take("client")
    name = u.take("codename")
    wd = u.pick(WEEKDAYS[:5])
    a = u.add("work", f"{client} work will be tracked as {name}", u.at(0, 0.5), source="slack")
    b = u.add("work", f"{name} go-live moved to {wd}, ops on standby", u.at(0.5, 1), source="slack")
    u.add("work", f"{client} asked about SSO again")
    u.ask(
        "multi",
        u.pick(
            [
                f"When does the {client} project go live?",
                f"What day is the launch for {client}?",
            ]
        ),
        wd,
        [a, b],
    )


def gift_size(u: User) -> None:
    gift = u.pick(["rain jacket", "linen shirt", "hiking boots", "wool coat"])
    brand = u.pick(["Patagonia", "Arket", "Fjällräven", "Uniqlo"])
    size = u.pick(["XS", "S", "M", "L", "XL"])
    a = u.add(
        "message",
        f"{u.partner} has been eyeing the {brand} {gift}, perfect birthday present",
        u.at(0, 0.5),
    )
    b = u.add(
        "note",
        f"{u.partner}'s sizes: tops {size}, {u.pick(['trousers 30', 'trousers 32'])}",
        u.at(0.5, 1),
    )
    u.add("message", f"{u.friend()} got {u.partner} a {gift} last year, don't repeat it!")
    u.ask(
        "multi",
        u.pick(
            [
                f"What size should the birthday present for {u.partner} be?",
                f"Which size do I buy the {brand} thing in?",
            ]
        ),
        size,
        [a, b],
    )


def physio(u: User) -> None:
    doc = u.take("surname")
    street = u.take("street")
    a = u.add(
        "email",
        f"GP practice: we have referred you to Dr. {doc} (physiotherapy) for your knee.",
        u.at(0, 0.5),
    )
    b = u.add(
        "email",
        f"Dr. {doc}'s clinic has moved to {u.rng.randrange(2, 90)} {street}; "
        "appointments unchanged.",
        u.at(0.5, 1),
    )
    u.add("note", "knee exercises: 3x15 squats, stretch the calves")
    u.ask(
        "multi",
        u.pick(
            [
                "Where is the physio my GP sent me to?",
                "Which street do I go to for my knee treatment?",
            ]
        ),
        street,
        [a, b],
    )


MULTI: list[Family] = [
    recommended_booking,
    manager_ask,
    moved_city,
    account_owner,
    lent_item,
    anniversary,
    warranty,
    coach,
    codename_deadline,
    gift_size,
    physio,
]


# =============================================================================
# preference: what the user likes or avoids, in the first person
# =============================================================================


def _pref(
    u: User,
    kind: str,
    text: str,
    distractors: list[tuple[str, str]],
    questions: list[str],
    answer: str,
) -> None:
    e = u.add(kind, text)
    for dkind, dtext in distractors:
        u.add(dkind, dtext)
    u.ask("preference", u.pick(questions), answer, [e])


def milk(u: User) -> None:
    _pref(
        u,
        "message",
        "off dairy now, oat milk for me please ☕",
        [
            ("message", f"{u.friend()} only drinks whole milk, full fat or nothing"),
            ("note", "shopping: bread, eggs, coffee beans"),
        ],
        [
            "What milk do I take in my coffee?",
            "Should you get me regular milk?",
            "coffee order for me?",
        ],
        "oat milk",
    )


def mornings(u: User) -> None:
    _pref(
        u,
        "work",
        "please no meetings before 10, I'm useless in the mornings",
        [("work", f"{u.colleague()} prefers everything before lunch"), ("calendar", "Standup")],
        [
            "What's the earliest I like to have meetings?",
            "Can you book me a call at 8:30?",
            "When do I prefer not to be scheduled?",
        ],
        "no meetings before 10",
    )


def aisle(u: User) -> None:
    _pref(
        u,
        "note",
        "Flying: always aisle, I get up a lot. Never the last row.",
        [
            ("message", f"{u.partner} loves the window seat"),
            ("email", "Check-in is now open for your flight"),
        ],
        ["Window or aisle for me?", "Which seat should I get on the plane?"],
        "aisle",
    )


def cilantro(u: User) -> None:
    _pref(
        u,
        "message",
        "I can't stand coriander, tastes like soap to me",
        [
            ("message", f"{u.friend()} puts coriander on everything"),
            ("note", "recipe: green curry, add basil at the end"),
        ],
        ["Which herb should be kept out of my food?", "Do I like cilantro?"],
        "no coriander/cilantro",
    )


def signal(u: User) -> None:
    _pref(
        u,
        "note",
        "Personal stuff: Signal, not WhatsApp. Work: Slack only.",
        [
            ("message", f"{u.friend()} added me to yet another WhatsApp group"),
            ("work", "Slack is down again?"),
        ],
        ["Which messaging app do I prefer for personal chats?", "How should friends text me?"],
        "Signal",
    )


def music(u: User) -> None:
    band = u.take("band")
    _pref(
        u,
        "note",
        f"on repeat lately: {band}. Could listen all day.",
        [
            ("message", f"{u.friend()} got tickets for {u.take('band')}, jealous"),
            ("note", "podcast queue: history, science"),
        ],
        ["What music am I into these days?", "Which artist should be on my playlist?"],
        band,
    )


def trains(u: User) -> None:
    _pref(
        u,
        "note",
        "Rule: train over plane for anything under 5 hours. Better for the planet and I can work.",
        [
            ("message", f"{u.colleague()} flies everywhere, even 1 hour hops"),
            ("email", "Your rail card expires soon"),
        ],
        [
            "How do I like to travel for short trips?",
            "Should you book me a flight for a 3-hour journey?",
        ],
        "train under 5 hours",
    )


def dark_mode(u: User) -> None:
    _pref(
        u,
        "note",
        "settings: dark theme everywhere, light mode hurts my eyes",
        [
            ("work", f"{u.colleague()} says the new dashboard is too dark"),
            ("note", "laptop battery at 83% health"),
        ],
        ["Light or dark theme for my apps?", "What display mode do I want?"],
        "dark",
    )


def nickname(u: User) -> None:
    short = NICKNAMES[u.name]
    _pref(
        u,
        "message",
        f"please call me {short}, only my grandmother says {u.name}",
        [
            ("message", f"{u.friend()} goes by her middle name at work"),
            ("email", f"Dear {u.name}, your order has shipped"),
        ],
        ["What name do I go by?", "How do I like to be addressed?"],
        short,
    )


def movies(u: User) -> None:
    genre = u.pick(
        ["sci-fi", "documentaries", "old westerns", "Korean thrillers", "romantic comedies"]
    )
    _pref(
        u,
        "message",
        f"for movie night I'm always up for {genre}, but no horror ever",
        [
            ("message", f"{u.friend()} wants to watch the new horror one at the cinema"),
            ("note", "cinema club Thursdays"),
        ],
        ["What kind of film should we pick for movie night?", "Do I enjoy scary movies?"],
        f"{genre}; no horror",
    )


def hotel(u: User) -> None:
    _pref(
        u,
        "note",
        "hotels: quiet room, high floor, away from the lift. Bath > shower.",
        [
            ("email", "Your stay is confirmed, check-in from 3 PM"),
            ("message", f"{u.partner} only cares about breakfast at hotels"),
        ],
        ["What kind of hotel room do I want?", "Any requests I make when checking in?"],
        "quiet, high floor, away from the lift",
    )


def sparkling(u: User) -> None:
    _pref(
        u,
        "message",
        "sparkling water always, still water is just sad",
        [
            ("note", "water filter cartridge change in May"),
            ("message", f"{u.friend()} brought three bottles of still, sigh"),
        ],
        ["Fizzy or still water for me?", "What should I be offered to drink?"],
        "sparkling",
    )


def wine(u: User) -> None:
    _pref(
        u,
        "message",
        "red wine gives me migraines, I'll stick to white or a spritz",
        [
            ("message", f"{u.friend()} brought an amazing Rioja to dinner"),
            ("note", "wine fair next month"),
        ],
        ["What wine should I order for myself?", "Do I drink red?"],
        "white, no red",
    )


def desk(u: User) -> None:
    _pref(
        u,
        "work",
        "I work best standing in the afternoon, sitting in the morning",
        [
            ("work", "facilities: standing desks arrive next week"),
            ("note", "back stretches 10 min"),
        ],
        ["How do I like to set up my desk?", "Do I prefer to sit or stand while working?"],
        "sit mornings, stand afternoons",
    )


PREF: list[Family] = [
    milk,
    mornings,
    aisle,
    cilantro,
    signal,
    music,
    trains,
    dark_mode,
    nickname,
    movies,
    hotel,
    sparkling,
    wine,
    desk,
]


# Families a person lives more than once (several flights, several friends' door codes):
# one copy is asked about, the others stay as distractors alike in all but the entity.
REPEATABLE: list[Family] = [
    flight,
    wifi,
    door_code,
    book_rec,
    revenue,
    codename,
    plumber,
    room,
    dish,
    birthday,
    order,
    ticket,
    contact,
    contract,
    half_marathon,
    proposal,
    returned,
    kickoff,
    climbing,
    fired_up,
    recommended_booking,
    account_owner,
    lent_item,
    warranty,
    codename_deadline,
    moved_city,
]


# =============================================================================
# none: near topics, but no event holds the answer
# =============================================================================


def unanswerable(u: User) -> list[str]:
    f = u.friend()
    city = u.pick(u.taken.get("city", CITIES))
    client = u.pick(u.taken.get("client", CLIENTS))
    return [
        f"What's the booking reference for my train to {city}?",
        f"What's the name of {f}'s husband?",
        "What is my passport number?",
        "Which gym did I sign up for?",
        f"How much did {client} pay for the pilot?",
        "What's the name of my therapist?",
        "What did I pay for the new winter tyres?",
        f"Which hotel am I staying at in {city}?",
        "What's my blood type?",
        f"What allergy does {f} have?",
        "When is my cousin's wedding?",
        "What's the PIN for my debit card?",
        "Which language course did I enrol in?",
        f"What is {client}'s VAT number?",
        "What was the score of the football final I watched?",
    ]


# =============================================================================
# filler: everyday chatter around the same people, places and projects
# =============================================================================

FILLER = [
    ("message", "running {n} min late, sorry!"),
    ("message", "{f} are you coming to {place} later?"),
    ("message", "can you grab bread on the way home?"),
    ("message", "lol {f} that's exactly what {f2} said"),
    ("message", "{p}: dinner at 8? I'm making {food}"),
    ("message", "did you see the match last night? unreal ending"),
    ("message", "{f}: {city} was amazing, photos soon"),
    ("message", "ugh the bus is late again"),
    ("message", "{p}: I'm at {place}, want anything?"),
    ("message", "anyone up for {food} on {wd}?"),
    ("message", "{f} sent the pics from {place} 😂"),
    ("message", "thanks for last night {f}, so much fun"),
    ("message", "{f}: can I borrow your car on {wd}?"),
    ("message", "raining again. staying in with tea"),
    ("message", "{p}: the plumber/electrician/whoever never showed up"),
    ("message", "what time is {f}'s thing on {wd}?"),
    ("message", "{f} is thinking of visiting {city} in the summer"),
    ("message", "got the {food} from that new place, 7/10"),
    ("work", "pushed the fix for the {topic} bug, can someone review?"),
    ("work", "{c} can we move the {topic} sync to {time}?"),
    ("work", "reminder: {topic} doc due {wd}"),
    ("work", "{c} is out sick today, I'll cover her standup"),
    ("work", "{client} asked for a call about the {topic} on {wd}"),
    ("work", "who owns the {topic} now? the wiki is out of date"),
    ("work", "CI is red again, flaky test in the {topic} module"),
    ("work", "great demo {c}! the {topic} looks so much cleaner"),
    ("work", "{c} shared the {topic} slides in the drive"),
    ("work", "lunch? {food} place downstairs at {time}"),
    (
        "email",
        "Hi, following up on the {topic}. Could you send the latest numbers by {wd}? Thanks, {c}",
    ),
    ("email", "Your order #{num} has shipped and should arrive {wd}."),
    ("email", "Newsletter: 10 things to do in {city} this weekend"),
    ("email", "{client}: minutes from today's {topic} meeting attached."),
    ("email", "Your monthly statement is ready to view online."),
    ("email", "Reminder: your subscription renews on the 1st."),
    ("email", "{c}: I'm on leave {wd} to {wd2}, {c2} is covering"),
    ("email", "Invitation: {topic} workshop at {place}, RSVP by {wd}"),
    ("email", "Your parcel could not be delivered. Reschedule online."),
    ("email", "Receipt from {rest}: total €{n}.50, thank you!"),
    ("email", "Hi, the {topic} review is postponed, new date TBD. {c}"),
    ("calendar", "Standup"),
    ("calendar", "1:1 with {c}"),
    ("calendar", "{topic} sync"),
    ("calendar", "Lunch with {f} at {rest}"),
    ("calendar", "Yoga class"),
    ("calendar", "{client} weekly call"),
    ("calendar", "Focus time: {topic}"),
    ("calendar", "Call mum"),
    ("calendar", "Drinks with {f} and {f2}"),
    ("calendar", "Team retro"),
    ("calendar", "Pick up {p} from the station, {time}"),
    ("note", "groceries: {food}, lemons, rice, olive oil, dish soap"),
    ("note", "idea: a tiny app to track plant watering"),
    ("note", "ask {c} about the {topic} budget"),
    ("note", "{city} trip ideas: old town walk, market, the view point"),
    ("note", "call the bank about the card fee"),
    ("note", "gift for {f}: book? candle? ask {p}"),
    ("note", "read later: long article on sleep and memory"),
    ("note", "weekend: clean the balcony, fix the shelf, laundry"),
    ("note", "{topic}: open questions for {c}"),
    ("note", "recipe to try: {food} with roasted peppers"),
    # near the facts' topics, holding none of their answers
    ("email", "Check-in is open for your flight to {city}. Boarding passes are in the app."),
    ("email", "Your flight to {city} is delayed by {n} minutes. We apologise."),
    ("work", "moved {proj}-{num4} to review"),
    ("work", "{proj}-{num4} is blocked on {c}, any ideas?"),
    ("email", "Your order #{num} has been delivered."),
    ("message", "{f}: the wifi at {place} is terrible today"),
    ("note", "{client}: renewal due, check with {c}"),
    ("work", "{client} contract redlines are back from legal"),
    ("message", "{f} got a new job at {client}!"),
    ("calendar", "Dentist - cleaning"),
    ("message", "book {rest} for {wd}? or is that too fancy"),
    ("note", "restaurants to try: {rest}, {rest2}"),
    ("message", "{p}: did you pay the rent this month?"),
    ("email", "{insurer}: your renewal quote is ready to view."),
    ("message", "{f}: read anything good lately?"),
    ("work", "Q{q} planning doc is up, comments by {wd}"),
    ("calendar", "Climbing with {f}"),
    ("note", "run {n} km, felt ok"),
    ("message", "{f}: drinks before you leave for {city}?"),
    ("email", "{c2}: new phone number, old one stops working Friday"),
    ("note", "ideas for {p}'s birthday: concert tickets, a nice pen, weekend away"),
    ("message", "{f} says the {rest} reservation is under her name"),
]
FOODS = [
    "pizza",
    "sushi",
    "tacos",
    "ramen",
    "pad thai",
    "risotto",
    "falafel",
    "dumplings",
    "curry",
    "poke",
]


def filler(u: User, n: int) -> None:
    for _ in range(n):
        kind, template = u.pick(FILLER)
        friends = u.rng.sample(u.people["friends"], 2)
        colleagues = u.rng.sample(u.people["colleagues"], 2)
        wd, wd2 = u.rng.sample(WEEKDAYS, 2)
        text = template.format(
            f=friends[0],
            f2=friends[1],
            c=colleagues[0],
            c2=colleagues[1],
            p=u.partner,
            place=u.pick(PLACES),
            city=u.pick(CITIES),
            food=u.pick(FOODS),
            wd=wd,
            wd2=wd2,
            topic=u.pick(TOPICS),
            client=u.pick(CLIENTS),
            time=u.pick(TIMES),
            rest=u.pick(RESTAURANTS),
            rest2=u.pick(RESTAURANTS),
            proj=u.pick(PROJECTS),
            num4=u.rng.randrange(100, 2999),
            insurer=u.pick(INSURERS),
            q=u.rng.randrange(1, 5),
            n=u.rng.randrange(5, 95),
            num=u.rng.randrange(10**5, 10**6),
        )
        u.add(kind, text)


# =============================================================================
# users
# =============================================================================

NICKNAMES = {
    "Alexandra": "Sasha",
    "Bilal": "Billy",
    "Carmen": "Menchu",
    "Dmitri": "Dima",
    "Eleanor": "Nell",
    "Farah": "Fafa",
}
PEOPLE = [
    ("u_alex", "Alexandra", "Lisbon", "product manager", "Brightline Software"),
    ("u_bilal", "Bilal", "Berlin", "data engineer", "Nordwerk Analytics"),
    ("u_carmen", "Carmen", "Valencia", "architect", "Estudio Mar"),
    ("u_dmitri", "Dmitri", "Copenhagen", "research scientist", "Helix Biolabs"),
    ("u_eleanor", "Eleanor", "Edinburgh", "head of sales", "Thistle Payments"),
    ("u_farah", "Farah", "Rotterdam", "nurse and union rep", "Erasmus Medical Centre"),
]


def make_user(index: int, seed: int) -> User:
    user_id, name, home, job, employer = PEOPLE[index]
    u = User(user_id, name, home, job, employer, random.Random(seed * 100 + index))
    names = u.rng.sample([n for n in FIRST if n != name], 14)
    u.taken["first"] = list(names)
    u.people = {"friends": names[:6], "colleagues": names[6:11], "manager": names[11:12]}
    u.partner = names[12]
    u.kid = names[13] if index % 2 == 0 else None
    u.pet = PETS[index] if index != 3 else None
    return u


def build(seed: int = SEED) -> tuple[dict, dict]:
    users, events, questions = [], [], []
    for index in range(len(PEOPLE)):
        u = make_user(index, seed)
        for families, count in ((SINGLE, 18), (WHEN, 11), (MULTI, 11), (PREF, 10)):
            for family in u.rng.sample(families, min(count, len(families))):
                asked = len(u.questions)
                for _ in range(u.pick([2, 3]) if family in REPEATABLE else 1):
                    family(u)
                if len(u.questions) > asked:
                    u.questions[asked:] = [u.pick(u.questions[asked:])]
        for q in u.rng.sample(unanswerable(u), 9):
            u.ask("none", q, "", [])
        filler(u, EVENTS_PER_USER - len(u.events))
        # ids in time order, so an id says nothing of the kind of event it is
        order = sorted(range(len(u.events)), key=lambda i: (u.events[i]["timestamp"], i))
        ids = {i: f"{u.user_id}_e{rank:04d}" for rank, i in enumerate(order)}
        for i in order:
            e = u.events[i]
            events.append(
                {
                    "user_id": u.user_id,
                    "source": e["source"],
                    "event_id": ids[i],
                    "type": e["type"],
                    "timestamp": e["timestamp"].isoformat().replace("+00:00", "Z"),
                    "content": e["content"],
                }
            )
        for n, q in enumerate(u.questions):
            questions.append(
                {
                    "qid": f"{u.user_id}_q{n:03d}",
                    "user_id": u.user_id,
                    "kind": q["kind"],
                    "question": q["question"],
                    "answer": q["answer"],
                    "event_ids": [ids[i] for i in q["refs"]],
                }
            )
        users.append(
            {
                "user_id": u.user_id,
                "traits": {"name": u.name, "city": u.home, "job": u.job, "employer": u.employer},
            }
        )
    return {"users": users, "events": events}, {"questions": questions}


def main() -> None:
    memories, questions = build()
    OUT.mkdir(exist_ok=True)
    for name, data in (("memories.json", memories), ("questions.json", questions)):
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        (OUT / name).write_text(text, encoding="utf-8")
    kinds: dict[str, int] = {}
    for q in questions["questions"]:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    print(f"{len(memories['events'])} events, {len(questions['questions'])} questions: {kinds}")


if __name__ == "__main__":
    main()
