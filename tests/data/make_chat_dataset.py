"""Make `chat/memories.json` and `chat/questions.json`: long chats `make eval SET=chat` asks.

How it was made: this script, run once with `python tests/data/make_chat_dataset.py`
(no arguments, standard library only, `random.Random(SEED)`), writes both files; the
same script gives the same bytes, so re-run it only when the tables below change and
commit what it writes. `tests/test_chat_dataset.py` checks the labels hold.

What it models: the second labeled set, shaped like LoCoMo's conversations rather than
like a person's inbox. Seven synthetic people each have ONE long chat with one friend
(named in their traits) over 22 to 28 dated sessions, four to six months: sessions days
apart, turns within a session seconds to minutes apart, all on one day. Every event is
one turn, type "message", content "<Speaker>: <utterance>", ids "<user>_t0001"... in
time order. Most sessions are on the user's usual app; now and then one is on another
(the source), as when a pair switches apps for a while. A session opens with greetings,
closes with goodbyes, and in between holds:

- beats of fact families: a family (a hotel booked, a puppy named, a new manager...)
  writes one, two or three beats, each in its own session, in time order, and the
  question about them with the turns that hold the answer. Many answers are short
  replies whose meaning is in the turn before ("so which hotel in Porto?" / "the one
  by the river, Casa Ribeira"): both turns are labeled. Several families first write
  an earlier plan ("thinking of Hotel X") and only later the outcome ("went with Y"),
  so that the nearest turn by topic is often the wrong one. What a `when` question
  asks about happens in a session of its own ("landed in Porto!"), on its day;
- decoys written by the same family: the same topic with other entities (the hotel a
  sister once stayed at, the restaurant to skip in the same city, the friend's own
  taste), and families lived more than once (several trips, gigs, races), each copy
  with other entities and asked about on its own;
- small talk: greetings, reactions and chit-chat that reuse the pair's people, cities,
  restaurants and bands drawn for the facts, answering nothing.

Question kinds, asked from the user's side ("Which hotel did we pick in Porto?"):
`single` (one turn, or two adjacent ones, state it), `when` (the answer is the date of
the session, which no turn states: only the timestamp does), `multi` (two beats in
different sessions, e.g. one names the new manager, the other says what that manager
asked; every turn needed is labeled), `preference` (what the user likes or avoids, said
in conversation, with the friend's opposite taste nearby), and `none` (near a topic of
the chat, but no turn holds the answer: labeled with no event). Each family has several
phrasings, some sharing the rare words of the turns (names, places), some paraphrases
with few words in common, drawn at random, so neither lexical nor dense matching wins
everywhere. Per user: 42 single, 21 when, 16 multi, 16 preference, 10 none.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from string import Formatter

SEED = 20250301
OUT = Path(__file__).with_name("chat")
FIRST_DAY = date(2025, 1, 6)
QUOTA = {"single": 42, "when": 21, "multi": 16, "preference": 16, "none": 10}
SESSIONS = (22, 28)  # per user
TURNS = (440, 580)  # per user, small talk filling up to a number drawn in this range
DAY_START_S, DAY_LAST_S, DAY_END_S = 8 * 3600, 20 * 3600, 21 * 3600 + 45 * 60  # UTC: a chat
# starts between the first two and ends before the third: one date in Europe too

# fmt: off
PEOPLE = [  # user_id, name, home, friend, friend's city, how they know each other, apps
    ("u_ana", "Ana", "Lisbon", "Jonas", "Berlin", "best friend since university",
     ("whatsapp", "instagram")),
    ("u_ben", "Ben", "Manchester", "Priya", "London", "old flatmate", ("whatsapp", "sms")),
    ("u_clara", "Clara", "Madrid", "Sofia", "Valencia", "childhood friend",
     ("telegram", "whatsapp")),
    ("u_dara", "Dara", "Dublin", "Kenji", "Amsterdam", "former colleague",
     ("imessage", "whatsapp")),
    ("u_elif", "Elif", "Vienna", "Marco", "Milan", "friend from a language exchange",
     ("whatsapp", "signal")),
    ("u_farid", "Farid", "Marseille", "Léa", "Paris", "friend from the climbing gym",
     ("signal", "sms")),
    ("u_greta", "Greta", "Stockholm", "Tomás", "Barcelona", "friend from art school",
     ("messenger", "whatsapp")),
]
WOMEN = [
    "Maya", "Lucia", "Amara", "Ingrid", "Hana", "Nadia", "Ayesha", "Camila", "Greta", "Mei",
    "Freya", "Elif", "Noor", "Zara", "Ines", "Rosa", "Lena", "Aiko", "Sunita", "Chiara",
    "Astrid", "Yara", "Beatriz", "Carmen", "Dalia", "Esme", "Fatima", "Gloria", "Hilde",
    "Imke", "Joana", "Kaja", "Leonie", "Marta", "Nell", "Olga", "Paula", "Rita", "Saskia",
    "Tilde",
]
MEN = [
    "Ravi", "Chen", "Tomasz", "Oskar", "Mateo", "Dev", "Felix", "Bruno", "Pieter", "Yusuf",
    "Arjun", "Diego", "Kwame", "Santiago", "Henrik", "Emeka", "Viktor", "Tariq", "Hugo",
    "Pavel", "Rafael", "Olu", "Anders", "Bilal", "Cosmin", "Dmitri", "Eamon", "Fabio",
    "Goran", "Idris", "Jakob", "Karim", "Luca", "Milan", "Nils", "Omar", "Piotr", "Rui",
    "Stefan", "Teo",
]
SURNAMES = [
    "Okafor", "Lindqvist", "Moreau", "Takahashi", "Brennan", "Castellanos", "Novak", "Haddad",
    "Fitzgerald", "Rossi", "Kowalczyk", "Delacroix", "Nakamura", "Abernathy", "Vasquez",
    "Petrov", "Achterberg", "Mbeki", "Salonen", "Quintero", "Whitlock", "Iyer", "Gallagher",
    "Szabo", "Ferreira", "Holmberg", "Adeyemi", "Marchetti",
]
CITIES = [
    "Porto", "Seville", "Kraków", "Bologna", "Tallinn", "Ljubljana", "Copenhagen", "Edinburgh",
    "Bruges", "Tbilisi", "Reykjavík", "Split", "Naples", "Oslo", "Zurich", "Lyon", "Gothenburg",
    "Rotterdam", "Budapest", "Prague", "Granada", "Palermo", "Riga", "Vilnius", "Salzburg",
    "Dubrovnik", "Nice", "Ghent", "Bergen", "Sarajevo", "Trieste", "Cork", "Utrecht", "Bilbao",
    "Bordeaux", "Turin", "Athens", "Valletta", "Hamburg", "Genoa",
]
HOTELS = [
    "Casa Ribeira", "Hotel Miramar", "The Linen Rooms", "Albergo Sole", "Pension Adler",
    "Hotel Cortina", "The Salt House", "Villa Aurora", "Hostal Luna", "The Foundry Hotel",
    "Casa do Largo", "Hotel Kranich", "The Old Bakery Inn", "Maison Verte", "Hotel Lindner",
    "The Weaver's Lodge", "Palazzo Nero", "Hotel Bellavista",
]
DINERS = [  # a restaurant and the dish to order there
    ("Tasca do Chico", "octopus rice"), ("Osteria Bellini", "cacio e pepe"),
    ("Mama Kin", "lamb tagine"), ("The Gilded Fig", "duck ragù"), ("Bar Tomate", "pan con tomate"),
    ("Kiln", "smoked trout"), ("Sakura Tei", "black cod"), ("El Xampanyet", "boquerones"),
    ("Brasserie Lutèce", "steak frites"), ("Ramen Ikki", "tonkotsu ramen"),
    ("Le Petit Zinc", "onion soup"), ("Trattoria Sostanza", "butter chicken"),
    ("Casa Lupita", "mole tacos"), ("The Copper Kettle", "sticky toffee pudding"),
    ("Mezze Palace", "lamb kofta"), ("Bodega Flor", "croquetas"), ("Café Anker", "apple strudel"),
    ("Lardo", "porchetta"), ("Nonna Pina", "aubergine parmigiana"), ("Fischerhütte", "fried perch"),
    ("Blue Door Bistro", "mushroom risotto"), ("Marisqueira Azul", "clams"),
]
SPOTS = [  # a cuisine and a restaurant of it
    ("Georgian", "Supra House"), ("Sichuan", "Chilli Temple"), ("Ethiopian", "Addis Kitchen"),
    ("Basque", "Txoko"), ("Lebanese", "Beit Zaatar"), ("Peruvian", "Ceviche Lima"),
    ("Korean", "Seoul Bowl"), ("Vietnamese", "Pho Saigon"), ("Sardinian", "Su Nuraghe"),
    ("Oaxacan", "Mole Mole"),
]
DISHES = [  # what the user cooks
    "lasagne", "shakshuka", "dal", "paella", "chilli", "banana bread", "fish pie", "ramen",
    "moussaka", "curry", "gnocchi", "pierogi",
]
COMPANIES = [
    "Harbor Labs", "Brightline Software", "Nordwerk Analytics", "Estudio Mar", "Helix Biolabs",
    "Thistle Payments", "Quillon Pharma", "Tessera Games", "Verdant Energy", "Mosaic Health",
    "Orchard Bank", "Tidewell Shipping", "Fennimore Labs", "Sable Telecom", "Ember Solar",
    "Driftwood Studios", "Kelpie Insurance", "Larkspur Retail", "Cobalt Mining",
]
CLIENTS = [
    "Halvorsen Logistics", "Brightwater Foods", "Northwind Traders", "Juniper Airlines",
    "Ashgrove Dairy", "Pemberton Legal", "Rivulet Water", "Stonebridge Capital",
    "Wexford Textiles", "Yarrow Organics", "Zenith Freight", "Albatross Media",
]
STREETS = {  # by city: the user's for where they live, the friend's for the friend's friends
    "Lisbon": ["Rua das Flores", "Rua da Rosa", "Calçada do Combro", "Rua dos Fanqueiros",
               "Avenida de Roma", "Rua do Benformoso"],
    "Manchester": ["Oldham Street", "Wilmslow Road", "Burton Road", "Beech Road",
                   "Thomas Street", "Chorlton Road"],
    "Madrid": ["Calle de Lavapiés", "Calle del Pez", "Calle de Argumosa", "Calle de Ibiza",
               "Calle de Ponzano", "Calle de Fuencarral"],
    "Dublin": ["Camden Street", "Leinster Road", "Manor Street", "Francis Street",
               "Harrington Street", "Capel Street"],
    "Vienna": ["Gumpendorfer Straße", "Lerchenfelder Straße", "Kettenbrückengasse",
               "Schönbrunner Straße", "Florianigasse", "Neubaugasse"],
    "Marseille": ["Rue de la République", "Cours Julien", "Rue Paradis", "Rue Sainte",
                  "Rue d'Aubagne", "Boulevard Chave"],
    "Stockholm": ["Götgatan", "Hornsgatan", "Sankt Eriksgatan", "Folkungagatan", "Odengatan",
                  "Ringvägen"],
    "Berlin": ["Oranienstraße", "Kastanienallee", "Weserstraße", "Bergmannstraße"],
    "London": ["Dalston Lane", "Mare Street", "Brick Lane", "Lordship Lane"],
    "Valencia": ["Carrer de Sueca", "Carrer de Cadis", "Carrer de Dalt", "Carrer de Russafa"],
    "Amsterdam": ["Prinsengracht", "Ferdinand Bolstraat", "Czaar Peterstraat", "Haarlemmerdijk"],
    "Milan": ["Via Paolo Sarpi", "Corso di Porta Ticinese", "Via Tortona", "Via Padova"],
    "Paris": ["Rue Oberkampf", "Rue des Martyrs", "Rue de Charonne", "Rue de Belleville"],
    "Barcelona": ["Carrer de Verdi", "Carrer del Parlament", "Carrer de Blai", "Carrer d'Enric"],
}
BANDS = [
    "Khruangbin", "Fontaines D.C.", "Little Simz", "Big Thief", "Nils Frahm", "Rosalía",
    "King Gizzard", "Arooj Aftab", "Floating Points", "Wet Leg", "Bonobo", "Mdou Moctar",
    "Japanese Breakfast", "Caribou", "Hania Rani", "Black Country, New Road", "Kokoroko",
    "Sharon Van Etten",
]
VENUES = [
    "the Roundhouse", "Paradiso", "the Olympia", "Vega", "Tivoli", "the Barrowland",
    "La Riviera", "Botanique", "the Arena", "Lido", "the Concertgebouw", "Fabrique",
]
SHOWS = [
    "Slow Horses", "The Bear", "Severance", "Shrinking", "Borgen", "Dark", "Succession",
    "Mare of Easttown", "The Crown", "Derry Girls", "Reservation Dogs", "Bad Sisters",
]
BOOKS = [
    "The Overstory", "Piranesi", "Klara and the Sun", "Braiding Sweetgrass", "The Dispossessed",
    "Project Hail Mary", "Pachinko", "The Remains of the Day", "Stoner", "Lincoln in the Bardo",
    "Tomorrow, and Tomorrow, and Tomorrow", "The Ministry for the Future",
    "Small Things Like These",
]
VERDICTS = [
    "the ending ruined it", "best thing I've read all year", "way too long, should be half",
    "cried on the train twice", "clever but cold", "loved the first half, lost me after",
]
CLASSES = [
    "pottery", "salsa", "life drawing", "Italian cooking", "improv", "woodworking",
    "photography", "bouldering", "choir", "watercolour",
]
HOBBIES = [
    "roller skating", "sourdough", "birdwatching", "chess", "crochet", "padel", "sea swimming",
    "embroidery",
]
GIFTS = [
    "record player", "silk scarf", "pasta machine", "hammock", "weekend in a spa", "smartwatch",
    "leather journal", "espresso machine", "telescope", "pair of hiking boots", "bonsai tree",
    "cast-iron pan", "cashmere jumper", "ukulele",
]
CARS = [
    "Škoda Fabia", "Toyota Yaris", "VW Golf", "Renault Clio", "Fiat Panda", "Mazda 2",
    "Kia Ceed", "Peugeot 208", "Volvo V40", "Honda Jazz",
]
PARTS = ["clutch", "battery", "alternator", "gearbox", "starter motor", "fuel pump"]
COLORS = [
    "sage green", "terracotta", "navy", "mustard yellow", "dusty pink", "off-white", "teal",
    "charcoal", "lilac", "burnt orange",
]
INGREDIENTS = [
    "a spoon of miso", "smoked paprika", "anchovies", "a splash of fish sauce", "brown butter",
    "a pinch of cinnamon", "lemon zest", "a shot of espresso",
]
ITEMS = [
    "tent", "camping stove", "big suitcase", "drill", "projector", "hiking poles", "kayak",
    "car roof box", "sewing machine", "pressure washer", "bread maker", "snowboard",
]
LANGUAGES = ["Portuguese", "Japanese", "Greek", "Korean", "Polish", "Swedish", "Turkish", "Dutch"]
PODCASTS = [
    "Radiolab", "99% Invisible", "Cautionary Tales", "Search Engine", "Hard Fork",
    "Song Exploder", "The Rest Is History", "Heavyweight",
]
PTOPICS = ["shipping containers", "the QWERTY keyboard", "a fake Vermeer", "the first emoji",
           "a lost Soviet city", "the inventor of the smoke detector"]
TEAMS = [
    "Real Ale Madrid", "Expected Goals", "Net Gains", "The Offside Rule", "Ball Street Journal",
    "Nil Desperandum", "Kick Buttowski", "Inter Yermilan",
]
PLANTS = ["tomatoes", "chillies", "sweet peas", "strawberries", "a fig tree", "lavender",
          "courgettes", "a lemon tree"]
TATTOOS = ["swallow", "crescent moon", "fern leaf", "tiny anchor", "lemon", "paper plane"]
ALLERGENS = ["birch pollen", "peanuts", "dust mites", "hazelnuts", "penicillin", "kiwi"]
PHONES = ["Pixel 9", "iPhone 16", "Galaxy S24", "Fairphone 5", "Nothing Phone"]
BARS = [
    "the Fox and Anchor", "Bar Cerveza", "Hopfenreich", "the Jazz Cellar", "Vinoteca Alma",
    "the Rooftop at Nine", "Café Central", "the Dockside Tap", "Bar Pilar", "Mikkeller",
]
WVENUES = [
    "a vineyard in the Douro", "the botanical gardens", "a castle outside Edinburgh",
    "a barn in the Cotswolds", "her grandparents' farm", "a lake house in Carinthia",
    "a monastery near Granada", "a beach club in Comporta",
]
TITLES = [
    "head of design", "senior editor", "lead engineer", "operations manager", "art director",
    "principal architect", "head of partnerships", "clinical lead", "product director",
]
PETNAMES = ["Biscuit", "Mochi", "Pepper", "Ziggy", "Olive", "Nutmeg", "Pretzel", "Waffles",
            "Juno", "Miso", "Crumpet", "Tofu"]
BABIES = ["Ottilie", "Maren", "Isla", "Clementine", "Ada", "Nora", "Liv", "Wren"]
EXAMS = ["C1 Spanish", "CFA level 1", "driving theory", "ACCA", "IELTS", "sommelier level 2"]
PROJECTS = [
    "pricing revamp", "Lisbon offsite", "onboarding redesign", "data migration",
    "partner programme", "mobile relaunch", "hiring sprint", "quarterly planning",
]
POSITIONS = ["left back", "goalkeeper", "centre midfield", "the wing", "up front"]
APPLIANCES = ["washing machine", "boiler", "oven", "dishwasher", "doorbell", "extractor fan"]
FOODS = ["crisps", "sugar in my coffee", "late-night toast", "beer on weeknights",
         "fizzy drinks", "biscuits at my desk"]
JOBS = ["vet", "pilot", "pastry chef", "surgeon", "park ranger", "translator", "tattoo artist"]
COFFEES = ["oat flat white", "double espresso", "black americano", "cortado with oat milk",
           "iced latte", "cappuccino with soy milk"]
HERBS = ["coriander", "dill", "mint", "fennel", "parsley"]
SEATS = [("aisle", "I hate climbing over people"), ("window", "I like to sleep against the wall")]
WINES = [("white", "red gives me headaches"), ("red", "white tastes like vinegar to me"),
         ("rosé", "red is too heavy for me")]
HORRORS = ["Hereditary", "The Babadook", "It Follows", "Midsommar", "The Conjuring", "Talk to Me"]
GENRES = ["jazz", "techno", "country", "metal", "90s pop", "reggae", "bossa nova", "indie rock"]
TEAS = ["green tea", "peppermint", "Earl Grey", "rooibos", "builder's tea"]
GAMES = ["Catan", "Codenames", "Ticket to Ride", "Wingspan", "Azul", "Carcassonne"]
NEARBY = ["the one by the river", "the little one near the station", "the one with the pool",
          "the old convent one", "the cheap one in the old town"]
WIFIS = ["VodafoneHome", "Pretty Fly for a WiFi", "TheLAN", "NetNinja", "Casa_5G", "Skynet"]
WORDS = ["sunflower", "tortilla", "pelican", "moonrise", "gingko", "marmalade", "octopus"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = ["6:30", "7", "7:30", "7:45", "8", "8:15", "8:30", "9"]
# fmt: on

Value = str | tuple[str, str]  # what a slot is filled with: `{seat[0]}` for a pair

POOLS: dict[str, list] = {
    "woman": WOMEN,
    "man": MEN,
    "name": [n for pair in zip(WOMEN, MEN, strict=True) for n in pair],
    "surname": SURNAMES,
    "city": CITIES,
    "hotel": HOTELS,
    "diner": DINERS,
    "spot": SPOTS,
    "dish": DISHES,
    "company": COMPANIES,
    "client": CLIENTS,
    "band": BANDS,
    "venue": VENUES,
    "show": SHOWS,
    "book": BOOKS,
    "verdict": VERDICTS,
    "class": CLASSES,
    "hobby": HOBBIES,
    "gift": GIFTS,
    "car": CARS,
    "part": PARTS,
    "color": COLORS,
    "ingredient": INGREDIENTS,
    "item": ITEMS,
    "language": LANGUAGES,
    "podcast": PODCASTS,
    "ptopic": PTOPICS,
    "team": TEAMS,
    "plant": PLANTS,
    "tattoo": TATTOOS,
    "allergen": ALLERGENS,
    "phone": PHONES,
    "bar": BARS,
    "wvenue": WVENUES,
    "title": TITLES,
    "petname": PETNAMES,
    "baby": BABIES,
    "exam": EXAMS,
    "project": PROJECTS,
    "position": POSITIONS,
    "appliance": APPLIANCES,
    "food": FOODS,
    "job": JOBS,
    "coffee": COFFEES,
    "herb": HERBS,
    "seat": SEATS,
    "wine": WINES,
    "horror": HORRORS,
    "genre": GENRES,
    "tea": TEAS,
    "game": GAMES,
}
PERSONS = {"woman", "man", "name"}  # one pool of people: nobody is drawn twice


def _racetime(rng: random.Random) -> str:
    return f"{rng.randrange(44, 62)}:{rng.randrange(60):02d}"


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "weekday": lambda rng: rng.choice(WEEKDAYS),
    "time": lambda rng: rng.choice(TIMES),
    "n": lambda rng: str(rng.randrange(2, 7)),
    "weeks": lambda rng: str(rng.randrange(3, 9)),
    "racetime": _racetime,
    "rentup": lambda rng: f"€{rng.randrange(5, 16) * 10}",
    "pw": lambda rng: f"{rng.choice(WORDS)}{rng.randrange(10, 99)}{rng.choice(['!', '#', ''])}",
    "wifi": lambda rng: rng.choice(WIFIS),
    "nearby": lambda rng: rng.choice(NEARBY),
    "doorcode": lambda rng: f"{rng.randrange(1000, 9999)}#",
    "landtime": lambda rng: f"{rng.randrange(10, 22)}:{rng.choice(['05', '20', '35', '50'])}",
}


# =============================================================================
# families: the beats a fact lives in, and the questions about it
# =============================================================================


@dataclass
class Family:
    """One fact of the chat. `beats` are written in time order, each in its own session
    (within the `span` of sessions, as fractions); a line is "U: ..." (the user) or
    "F: ..." (the friend), and a leading "*" marks a turn that holds the answer.
    `decoys` go to random sessions, unlabeled. `{slot}`s are the user's (`ctx`) or drawn
    per copy: `{city}`, `{city2}` from CITIES, never twice for one user. A family is
    lived up to `repeat` times, each copy with its own entities and its own question."""

    name: str
    kind: str
    beats: list[list[str]]
    asks: list[str]
    answer: str = ""  # `when`: the session's date
    decoys: list[list[str]] = field(default_factory=list)
    nones: list[str] = field(default_factory=list)  # near this topic, answered by no turn
    repeat: int = 1
    span: tuple[float, float] = (0.0, 1.0)
    night: bool = False  # its beats are said in the evening


# Stories two families tell, in this order: job offers and interviews, then the first
# day and the new manager; the flat signed for, then its keys; the driving test, then the
# car; the friend's puppy, then its sitter.
EARLY, LATE = (0.0, 0.45), (0.55, 1.0)

# fmt: off
SINGLE = [
    Family("hotel", "single", repeat=3,
        beats=[
            ["U: looking at hotels for {city}. {hotel2} looks cute but it's a lot",
             "F: treat yourself!!"],
            ["*F: so which hotel in {city} did you go for?",
             "*U: {nearby}, {hotel}", "F: ooh fancy"],
        ],
        asks=["Which hotel did we pick in {city}?", "Where am I staying when I go to {city}?",
              "what's the name of the place we booked for the {city} trip"],
        answer="{hotel}",
        decoys=[["F: {fsis} stayed at {hotel3} in {city} once, said the breakfast was sad"]],
        nones=["How much does a night at {hotel} cost?", "What's our room number at {hotel}?"],
    ),
    Family("food_tip", "single", repeat=3,
        beats=[["*U: food tips for {city}? going soon",
                "*F: {diner[0]}. order the {diner[1]} and thank me later", "U: noted!!"]],
        asks=["Which restaurant did {F} tell me to go to in {city}?",
              "Where did {F} say I have to eat in {city}?", "{F}'s food tip for {city}?"],
        answer="{diner[0]}",
        decoys=[["F: skip {diner2[0]} in {city} btw, total tourist trap", "U: good to know"]],
        nones=["How much was dinner at {diner[0]}?",
               "Who did I go to {diner[0]} with in {city}?"],
    ),
    Family("job_offer", "single", span=EARLY,
        beats=[
            ["F: any news on the job front?",
             "U: two offers!! {newjob} and {company}. no idea which", "F: nice problem to have"],
            ["*F: so?? which offer did you take", "*U: {newjob}. better team, shorter commute",
             "F: yesss congrats"],
        ],
        asks=["Which job offer did I accept?", "Which company did I pick over {company}?",
              "where did I decide to work after getting two offers"],
        answer="{newjob}",
        nones=["What salary did {newjob} offer me?"],
    ),
    Family("flat", "single", span=EARLY,
        beats=[
            ["F: how's the flat hunt", "U: saw one on {street} today. damp everywhere. no"],
            ["*F: any luck with flats?",
             "*U: signed for one on {newstreet}!! two bedrooms and a tiny balcony",
             "F: FINALLY"],
        ],
        asks=["Which street is my new flat on?", "Where did I end up finding a place to live?",
              "What street did I sign a lease on?"],
        answer="{newstreet}",
        nones=["How much was the deposit on my new flat?"],
    ),
    Family("reading", "single",
        beats=[["*F: reading anything good?", "*U: {book}. slow start but I'm hooked now",
                "F: adding it to my list"]],
        asks=["Which book did I say I was hooked on?", "What novel had a slow start for me?",
              "what was I reading when {F} asked"],
        answer="{book}",
        decoys=[["F: {fpartner} is reading {book2}, won't shut up about it"]],
        nones=["Who lent me {book}?"],
    ),
    Family("gig", "single", repeat=3,
        beats=[["*F: are we still on for {band}?", "*U: yes!! it's at {venue}, doors at {time}",
                "F: can't wait"]],
        asks=["Where is the {band} gig?", "Which venue are we seeing {band} at?",
              "where do {F} and I need to go for the {band} show"],
        answer="{venue}",
        decoys=[["U: {band2} is playing {venue} in the autumn btw", "F: ooh"]],
        nones=["How much were the {band} tickets?", "Who's supporting {band} at the gig?"],
    ),
    Family("brother_moves", "single",
        beats=[["*U: how's {fbro} doing?", "*F: moving to {city}! got a job there",
                "U: whoa, big change"]],
        asks=["Where is {F}'s brother moving to?", "Which city is {fbro} relocating to?",
              "where's {F}'s brother off to for work"],
        answer="{city}",
        decoys=[["F: {fbro} went to {city2} last year and hated it"]],
        nones=["What job did {fbro} get in {city}?"],
    ),
    Family("puppy", "single", span=EARLY,
        beats=[["F: WE GOT A PUPPY", "*U: STOP. what's the puppy called??",
                "*F: {petname}!! {fpartner} picked it", "U: I need photos immediately"]],
        asks=["What's {F}'s puppy called?", "What did {F} and {fpartner} name their new dog?",
              "name of {F}'s dog?"],
        answer="{petname}",
        decoys=[["U: the neighbours' dog {petname2} barked all night again", "F: noooo"]],
        nones=["What breed is {F}'s puppy?"],
    ),
    Family("gift_mum", "single",
        beats=[["*F: what did you get your mum for her birthday?",
                "*U: a {gift}. she'd been hinting for months", "F: cute"]],
        asks=["What did I get my mum for her birthday?", "What did I give mum on her birthday?",
              "mum's birthday gift from me?"],
        answer="{gift}",
        decoys=[["U: {partner} got mum a {gift2}, making me look bad", "F: 😂"]],
        nones=["How much did I spend on mum's birthday present?"],
    ),
    Family("gift_partner", "single",
        beats=[
            ["U: need gift ideas for {partner}. a {gift2}? boring?", "F: a bit boring yeah"],
            ["*F: what did you end up getting {partner}?",
             "*U: a {gift}! way better than my first idea"],
        ],
        asks=["What did I end up getting {partner} as a present?",
              "Which gift did I choose for {partner} in the end?",
              "what present did I settle on after the boring idea"],
        answer="{gift}",
    ),
    Family("car", "single", span=LATE,
        beats=[
            ["U: car shopping is hell. nearly got a {car2} but the mileage was insane"],
            ["*U: bought a car!!! a used {car}, {color}", "F: vroom vroom"],
        ],
        asks=["What car did I buy?", "Which model did I end up getting when I bought a car?",
              "what do I drive now"],
        answer="{car}",
        nones=["How much did I pay for the {car}?"],
    ),
    Family("evening_class", "single",
        beats=[
            ["U: thinking of an evening class. {class2} or {class}?", "F: {class2} obviously"],
            ["*F: did you sign up for a class in the end?", "*U: yep, {class} on {weekday}s"],
        ],
        asks=["Which evening class did I sign up for?", "What do I do on {weekday} evenings now?",
              "did I go with {F}'s suggestion of {class2} for the class"],
        answer="{class}",
        nones=["Who teaches my {class} class?"],
    ),
    Family("race", "single", repeat=2,
        beats=[["*F: how did the {city} 10k go??", "*U: {racetime}! happy with that",
                "F: machine"]],
        asks=["What was my time in the {city} 10k?", "How fast did I run the {city} race?",
              "my finishing time in {city}?"],
        answer="{racetime}",
        decoys=[["U: my colleague {name} is running {city} too, way faster than me"]],
        nones=["What was my finishing position in the {city} 10k?"],
    ),
    Family("wedding_venue", "single",
        beats=[
            ["F: {fsis} wants the wedding at {wvenue2}", "U: dreamy"],
            ["*F: update: {fsis}'s wedding is at {wvenue} now, {wvenue2} was booked solid",
             "U: honestly sounds even better"],
        ],
        asks=["Where is {F}'s sister getting married?",
              "What's the venue for {fsis}'s wedding now?",
              "where's the wedding of {F}'s sister going to be in the end"],
        answer="{wvenue}",
        nones=["What date is {fsis}'s wedding?"],
    ),
    Family("promotion", "single",
        beats=[["*F: I got promoted!! {title} as of monday", "U: YESSS congrats"]],
        asks=["What's {F}'s new job title?", "What was {F} promoted to?", "{F}'s new role?"],
        answer="{title}",
        decoys=[["F: {fpartner} is up for {title2} too, fingers crossed"]],
        nones=["How much of a raise did {F} get?"],
    ),
    Family("recipe", "single",
        beats=[["*F: what was in that {dish} you made? still thinking about it",
                "*U: the secret is {ingredient}. tell no one"]],
        asks=["What's the secret ingredient in my {dish}?",
              "what do I put in the dish {F} loved?", "how do I make my {dish} taste like that"],
        answer="{ingredient}",
    ),
    Family("show", "single",
        beats=[["*F: what are you watching at the moment",
                "*U: {show}. on season {n} already, send help"]],
        asks=["Which series was I binge-watching?", "What show was I already on season {n} of?",
              "what was I glued to on TV"],
        answer="{show}",
        decoys=[["F: {fpartner} made me start {show2}, it's fine I guess"]],
        nones=["Which streaming service is {show} on?"],
    ),
    Family("borrow", "single",
        beats=[["*F: can I borrow your {item} for the weekend?",
                "*U: course! keep it as long as you need"]],
        asks=["What did {F} borrow from me?", "Which of my things does {F} have?",
              "what did I lend {F} for the weekend"],
        answer="{item}",
        nones=["When is {F} giving my {item} back?"],
    ),
    Family("wifi", "single",
        beats=[["*F: {fpartner} is working from yours on {weekday}. wifi?",
                "*U: {wifi}, password {pw}"]],
        asks=["What's my wifi password?", "What's the password for the {wifi} network?",
              "how does {fpartner} get online at mine"],
        answer="{pw}",
        nones=["What's {F}'s wifi password?"],
    ),
    Family("five_a_side", "single",
        beats=[["*U: joined a five-a-side team from work, we're called {team}",
                "F: iconic name"]],
        asks=["What's my five-a-side team called?",
              "What's the name of the football team I joined?",
              "what do we call our work football team"],
        answer="{team}",
        nones=["Which league does {team} play in?"],
    ),
    Family("language", "single",
        beats=[["*F: still doing duolingo?", "*U: yes! {language} now, gave up on {language2}"]],
        asks=["Which language am I learning now?",
              "What did I switch to after giving up on {language2}?",
              "what am I studying on duolingo"],
        answer="{language}",
        nones=["How long is my duolingo streak?"],
    ),
    Family("podcast", "single",
        beats=[["*U: you'd love {podcast}, start with the episode on {ptopic}",
                "F: downloading"]],
        asks=["Which podcast did I recommend to {F}?", "What did I tell {F} to listen to?",
              "the show about {ptopic} I said {F} would love?"],
        answer="{podcast}",
        nones=["Who hosts {podcast}?"],
    ),
    Family("paint", "single",
        beats=[
            ["U: we're painting the kitchen. thinking {color2}", "F: bold"],
            ["*F: what colour did the kitchen end up?",
             "*U: {color}! the {color2} looked awful on the wall"],
        ],
        asks=["What colour did we paint the kitchen?", "what shade are the kitchen walls now",
              "Which paint did we go with instead of {color2}?"],
        answer="{color}",
        nones=["Which brand of paint did we use in the kitchen?"],
    ),
    Family("dentist", "single",
        beats=[["*U: new dentist is Dr {surname}, on {street}. so much nicer",
                "F: the old one was scary"]],
        asks=["Who's my new dentist?", "What's the name of the dentist I switched to?",
              "which doctor on {street} do I see for my teeth"],
        answer="Dr {surname}",
        nones=["When is my next check-up with Dr {surname}?"],
    ),
    Family("party_venue", "single",
        beats=[
            ["F: thinking of doing my birthday at {bar2}"],
            ["*F: change of plan, birthday drinks at {bar} now",
             "U: even better, {bar2} is always rammed"],
        ],
        asks=["Where is {F}'s birthday party?", "Which bar is {F} celebrating at?",
              "where are the birthday drinks after the change of plan"],
        answer="{bar}",
        nones=["What time does {F}'s birthday party start?"],
    ),
    Family("baby", "single",
        beats=[["*F: my cousin {name} had the baby! a little girl, {baby}",
                "U: aww congrats to them!!"]],
        asks=["What did {F}'s cousin name the baby?", "What's the name of {name}'s baby girl?",
              "the new baby in {F}'s family is called?"],
        answer="{baby}",
        nones=["How much did {name}'s baby weigh?"],
    ),
    Family("balcony", "single",
        beats=[["*F: what did you plant on the balcony in the end?",
                "*U: {plant} and some herbs. all thriving somehow"]],
        asks=["What did I plant on my balcony?", "what's growing on my balcony",
              "which plant is doing well at mine"],
        answer="{plant}",
    ),
    Family("holiday", "single",
        beats=[
            ["U: summer holiday: {city2} or {city}?", "F: {city2}!!"],
            ["*F: so where are you going this summer in the end?",
             "*U: {city}, booked it last night. sorry {city2}"],
        ],
        asks=["Where am I going on my summer holiday?", "Which place did I book for the summer?",
              "did I go with {city2} for the summer holiday"],
        answer="{city}",
        nones=["How many nights am I staying in {city} this summer?"],
    ),
    Family("phone", "single",
        beats=[["*U: dropped my phone in the sea so now I have the {phone}. it's huge",
                "F: NOOO. RIP old phone"]],
        asks=["What phone did I get after dropping mine in the sea?", "What's my new phone?",
              "which phone did I replace the drowned one with"],
        answer="{phone}",
        nones=["How much did my new {phone} cost?"],
    ),
    Family("tattoo", "single",
        beats=[["*U: got a tattoo!!! a tiny {tattoo} on my wrist", "F: SHOW ME"]],
        asks=["What tattoo did I get?", "what's the little design on my wrist?",
              "what did I get inked"],
        answer="{tattoo}",
        nones=["Which studio did my tattoo?"],
    ),
    Family("allergy", "single",
        beats=[["*U: allergy test came back: {allergen}. explains a lot",
                "F: oh no, your poor sinuses"]],
        asks=["What am I allergic to?", "What did my allergy test show?",
              "what should I avoid because of the allergy"],
        answer="{allergen}",
    ),
    Family("f_hobby", "single",
        beats=[["*U: what's the new hobby this month", "*F: {hobby}! {fpartner} thinks I'm mad",
                "U: love it"]],
        asks=["What new hobby did {F} pick up?", "What's {F} into these days?",
              "which hobby does {fpartner} think is mad"],
        answer="{hobby}",
    ),
    Family("mum_trip", "single",
        beats=[["*U: mum's off to {city} for a month, no idea why", "F: living her best life"]],
        asks=["Where is my mum going for a month?", "Where did mum go on her long trip?",
              "which city is mum spending a month in"],
        answer="{city}",
        nones=["Who is my mum travelling to {city} with?"],
    ),
    Family("lost_bag", "single",
        beats=[["*U: the airline lost my bag. it's in {city} apparently",
                "F: of course it is"]],
        asks=["Where did the airline send my lost bag?", "which city did my suitcase end up in?",
              "where is my missing luggage"],
        answer="{city}",
        nones=["Which airline lost my bag?"],
    ),
    Family("door_code", "single",
        beats=[["*F: how does {fpartner} get into your building on {weekday}?",
                "*U: code is {doorcode}, then take the lift"]],
        asks=["What's the door code to my building?",
              "How does {fpartner} get into my building?", "the keypad number at mine"],
        answer="{doorcode}",
        nones=["What's the door code at {F}'s building?"],
    ),
    Family("partner_job", "single",
        beats=[["*F: how's {partner}'s new job?",
                "*U: loving it. {title} at {company}, the office has a dog"]],
        asks=["What's {partner}'s new job?", "What does {partner} do at {company}?",
              "what role did my partner start"],
        answer="{title}",
        nones=["How much does {partner} earn at {company}?"],
    ),
]

WHEN = [
    Family("first_day", "when", span=LATE,
        beats=[
            ["U: start date at {newjob} got pushed back a week, annoying"],
            ["*F: how was day one at {newjob}??",
             "*U: exhausting. met everyone, got a laptop, forgot all the names", "F: classic"],
        ],
        asks=["When was my first day at {newjob}?", "When did I start the new job?",
              "what date did I begin working at {newjob}"],
        nones=["When does my probation at {newjob} end?"],
    ),
    Family("driving_test", "when", span=EARLY,
        beats=[
            ["U: driving test got moved AGAIN", "F: nooo"],
            ["*U: I PASSED!!! driving test done", "F: NO WAY congrats!!!"],
        ],
        asks=["When did I pass my driving test?", "What day did I get my licence?",
              "when did I finally become a legal driver"],
        nones=["Who was my driving instructor?"],
    ),
    Family("keys", "when", span=LATE,
        beats=[["*U: keys!!! {newstreet} is officially ours", "F: HOUSEWARMING WHEN"]],
        asks=["When did I get the keys to the {newstreet} flat?",
              "When did I move into my new place?",
              "what day did the new flat become ours"],
        nones=["When is my housewarming party?"],
    ),
    Family("landed", "when", repeat=3,
        beats=[["*U: landed in {city}! the airport is chaos", "F: have the best time!!"]],
        asks=["When did I arrive in {city}?", "What day did I fly into {city}?",
              "when did my {city} trip start"],
        decoys=[["F: {fpartner} wants to do {city} next year"]],
        nones=["What time is my flight home from {city}?"],
    ),
    Family("half_marathon", "when",
        beats=[
            ["U: half marathon training is killing me", "F: you've got this"],
            ["*U: finished the {city} half!! legs are dead", "F: HERO"],
        ],
        asks=["When did I run the {city} half marathon?", "what day was the {city} half I did?",
              "when did I do the 21k"],
    ),
    Family("adopted_cat", "when",
        beats=[["*U: meet {petname}!!! my cat!!! picked her up from the shelter this morning",
                "F: I'm obsessed. more photos"]],
        asks=["When did I adopt {petname}?", "When did I bring my cat home from the shelter?",
              "what day did the shelter kitty come home with me"],
        nones=["How old is {petname}?"],
    ),
    Family("engaged", "when",
        beats=[["*F: {fpartner} PROPOSED. like an hour ago. I'm shaking",
                "U: AAAAAH CONGRATS"]],
        asks=["When did {F} get engaged?", "When did {fpartner} propose?",
              "what day did {F} tell me about the proposal"],
        nones=["When is {F}'s wedding?"],
    ),
    Family("haircut", "when",
        beats=[
            ["U: thinking of going really short with my hair", "F: do it"],
            ["*U: cut it all off today. very short. no regrets (some regrets)", "F: pics!!"],
        ],
        asks=["When did I get my hair cut short?", "when was the big haircut?",
              "what day did I chop all my hair off"],
    ),
    Family("wisdom_tooth", "when",
        beats=[["*U: wisdom tooth is out. face like a hamster", "F: soup diet for you"]],
        asks=["When did I have my wisdom tooth out?", "When was my tooth extraction?",
              "what day did the dentist pull that tooth"],
    ),
    Family("saw_band", "when", repeat=2,
        beats=[["*U: at the {band} gig!!! they just opened with my favourite song",
                "F: so jealous"]],
        night=True,
        asks=["When did I see {band} live?", "what night was the {band} show I went to?",
              "when did I go to the {band} concert"],
    ),
    Family("interview", "when", repeat=2, span=EARLY,
        beats=[["*U: interview at {company} done. think it went ok?",
                "F: you smashed it, I know it"]],
        asks=["When was my interview at {company}?", "what day did I interview with {company}?"],
    ),
    Family("mum_visit", "when",
        beats=[["*U: mum's train just got in, she's here for a few days",
                "F: say hi to {mum} from me!"]],
        asks=["When did my mum arrive to stay with me?", "When did mum come to stay?",
              "what day did mum's train get in"],
    ),
    Family("bike_stolen", "when",
        beats=[["*U: someone nicked my bike outside the station. cut the lock and everything",
                "F: nooo, people are the worst"]],
        asks=["When was my bike stolen?", "what day did someone take my bike from the station?",
              "when did I lose my bike to a thief"],
    ),
    Family("first_lesson", "when",
        beats=[["*U: first {class} class done. I was terrible and loved it", "F: haha amazing"]],
        asks=["When did I have my first {class} class?", "when did I start {class}?"],
    ),
    Family("exam", "when",
        beats=[["*U: got my {exam} results. PASSED", "F: knew it!!"]],
        asks=["When did I get my {exam} results?", "what day did I find out I passed the {exam}?"],
    ),
    Family("sprained_wrist", "when",
        beats=[["*U: tripped on the stairs, wrist is sprained. sitting in A&E now",
                "F: oh no!! keep me posted"]],
        asks=["When did I sprain my wrist?", "when did I end up in A&E?",
              "what day did I hurt my wrist"],
    ),
    Family("f_visit", "when",
        beats=[["*F: at the airport!! see you in two hours", "U: AHHH the spare room is ready"]],
        asks=["When did {F} come to visit me?", "What day did {F} fly in to see me?",
              "when was {F} staying at mine"],
    ),
    Family("quit_smoking", "when",
        beats=[["*U: day one without cigarettes. wish me luck", "F: proud of you already"]],
        asks=["When did I quit smoking?", "when was my first day off cigarettes?"],
    ),
    Family("covid", "when",
        beats=[["*U: tested positive for covid. in bed with a fever", "F: nooo, rest up"]],
        asks=["When did I get covid?", "when did I test positive?",
              "what day was I stuck in bed with a fever"],
    ),
    Family("wedding_guest", "when", repeat=2,
        beats=[["*U: at {name}'s wedding! the speeches made me cry", "F: pics!!"]],
        asks=["When was {name}'s wedding?", "what day did I go to {name}'s wedding?"],
    ),
]

MULTI = [
    Family("new_manager", "multi", span=LATE,
        beats=[
            ["*F: who's your new manager then?", "*U: {name} {surname}, came over from {company}"],
            ["*U: {name} wants me to lead the {project} now", "F: big deal!!"],
        ],
        asks=["What did my new manager ask me to lead?",
              "Which project does the boss who came from {company} want me running?",
              "Which initiative am I heading up for my new line manager?"],
        answer="{project}",
        nones=["What's my new manager's phone number?"],
    ),
    Family("booked_tip", "multi", repeat=2,
        beats=[
            ["*F: best {spot[0]} in {city}? {spot[1]}, no question"],
            ["*U: booked {spot[1]} for {weekday} at {time}!", "F: order everything"],
        ],
        asks=["When is my table at the restaurant {F} recommended in {city}?",
              "What time are we eating at {F}'s {spot[0]} pick?",
              "When am I eating at the place my friend swore by?"],
        answer="{weekday} at {time}",
    ),
    Family("friend_dating", "multi",
        beats=[
            ["*F: {name2} is seeing someone new! {name}, a {job}", "U: ooh"],
            ["*F: {name} is whisking {name2} off to {city} for the birthday", "U: swoon"],
        ],
        asks=["Where is {name2}'s new partner taking them for their birthday?",
              "Where's the {job} taking {F}'s friend for the birthday?",
              "Where is the new romance taking {name2} away for their special day?"],
        answer="{city}",
    ),
    Family("physio", "multi",
        beats=[
            ["*U: GP referred me to a physio for the knee, {name} {surname}"],
            ["*U: {name} says no running for {weeks} weeks", "F: ugh sorry"],
        ],
        asks=["How long did the physio I was referred to say no running?",
              "For how long is my knee specialist keeping me off running?",
              "How long is the ban on jogging from the person treating my knee?"],
        answer="{weeks} weeks",
    ),
    Family("landlord", "multi",
        beats=[
            ["*U: the building got sold. new landlord is a guy called {man}"],
            ["*U: {man} is putting the rent up by {rentup} a month", "F: criminal"],
        ],
        asks=["How much is my new landlord raising the rent?",
              "By how much did the new owner of my building put the rent up?",
              "How steep is the increase the building's new owner wants?"],
        answer="{rentup}",
        nones=["How much rent do I pay now?"],
    ),
    Family("coach", "multi",
        beats=[
            ["*U: we've got a new coach at football, {name}. very intense"],
            ["*U: {name} moved me to {position}!", "F: promotion?"],
        ],
        asks=["Where does my new football coach want me to play?",
              "Which position did the intense new coach put me in?",
              "What role on the pitch did the new trainer give me?"],
        answer="{position}",
    ),
    Family("neighbour", "multi",
        beats=[
            ["*U: met the new neighbour, {name}. an electrician, super chatty"],
            ["*U: {name} fixed our {appliance} for free!!", "F: keep them forever"],
        ],
        asks=["What did the electrician next door fix for us?",
              "Which appliance did my new neighbour repair?",
              "What got repaired for free by the person who moved in next door?"],
        answer="{appliance}",
    ),
    Family("partner_car", "multi",
        beats=[
            ["*U: {partner} bought a {car2}, very proud of it"],
            ["*U: the {car2} broke down on the motorway. {part}, apparently", "F: nooo"],
        ],
        asks=["What broke on {partner}'s new car?",
              "What went wrong with the car {partner} bought?",
              "What part failed when {partner}'s car died on the highway?"],
        answer="{part}",
    ),
    Family("lent_item", "multi", repeat=2,
        beats=[
            ["*U: {name} never gave back my {item}, must chase that"],
            ["*U: {name} is moving to {city} next month!", "F: get your {item} back first"],
        ],
        asks=["Which city is the person who has my {item} moving to?",
              "Where is whoever borrowed my {item} moving?",
              "My {item} is with someone who's relocating: to which city?"],
        answer="{city}",
    ),
    Family("book_club", "multi",
        beats=[
            ["*F: book club pick this month is {book}"],
            ["*F: finished {book}. {verdict}", "U: haha noted"],
        ],
        asks=["What did {F} think of the book club pick?",
              "How did {F} find this month's book club read?",
              "What was {F}'s verdict on the novel the reading group chose?"],
        answer="{verdict}",
    ),
    Family("cover", "multi",
        beats=[
            ["*U: {name} from my team starts parental leave next week"],
            ["*U: covering {name}'s {client} account, it's chaos", "F: you'll manage"],
        ],
        asks=["Which client am I covering while my colleague is on parental leave?",
              "Whose account did I take over from the teammate who became a parent?"],
        answer="{client}",
    ),
    Family("sister_job", "multi",
        beats=[
            ["*U: my sister {sis} finally moved to {city}", "F: big step"],
            ["*U: {sis} got a job at {company}! so proud"],
        ],
        asks=["Where did my sister get a job after moving to {city}?",
              "Who hired my sister after her move?",
              "Which employer took on my sibling after the relocation?"],
        answer="{company}",
    ),
    Family("game_night", "multi",
        beats=[
            ["*F: {name} is hosting game night this month"],
            ["*F: {name}'s place is on {fstreet}, top floor, buzzer's broken", "U: got it"],
        ],
        asks=["Which street is game night on this month?",
              "Where does the host of game night live?",
              "What road does the person throwing the games evening live on?"],
        answer="{fstreet}",
    ),
    Family("plant_sitter", "multi",
        beats=[
            ["*U: {name} is watering my plants while I'm away"],
            ["*U: {name} killed the {plant}. I'm devastated", "F: RIP"],
        ],
        asks=["Which plant did my plant-sitter kill?",
              "What died while someone was watering my plants?",
              "Which of my greens didn't survive being looked after by a friend?"],
        answer="{plant}",
    ),
    Family("dog_sitter", "multi", span=LATE,
        beats=[
            ["*F: {name} is our new dog-sitter, a vet student"],
            ["*F: {name} is off to {city} for the summer, panic", "U: uh oh"],
        ],
        asks=["Where is {F}'s dog-sitter going for the summer?",
              "Where is the vet student who minds {F}'s dog off to?",
              "Where's the pet minder {F} hired heading for the holidays?"],
        answer="{city}",
    ),
    Family("trainer", "multi",
        beats=[
            ["*U: hired a personal trainer, {name}. scary but good"],
            ["*U: {name} says I have to cut out {food}. devastating", "F: rip"],
        ],
        asks=["What did my personal trainer tell me to cut out?",
              "Which treat did the trainer I hired ban?",
              "What do I have to give up on the orders of my new fitness coach?"],
        answer="{food}",
    ),
]

PREFERENCE = [
    Family("coffee", "preference",
        beats=[["*F: coffee when I'm over? the usual?", "*U: {coffee}, always",
                "F: noted, your highness"]],
        asks=["How do I take my coffee?", "What's my usual coffee order?",
              "what should {F} get me from the café"],
        answer="{coffee}",
        decoys=[["F: {fpartner} drinks {coffee2}, it's tragic"]],
        nones=["Which café do I go to every morning?"],
    ),
    Family("herb", "preference",
        beats=[["*F: making the salad, want {herb} in it?",
                "*U: no {herb} for me please, I can't stand it", "F: more for me"]],
        asks=["Which herb can't I stand?", "what should {F} leave out of my salad?",
              "is there a herb I hate"],
        answer="{herb}",
    ),
    Family("seat", "preference",
        beats=[["*F: window or aisle for the flight?", "*U: {seat[0]}, always. {seat[1]}"]],
        asks=["Do I prefer the window or the aisle?", "Which seat do I want on a plane?",
              "where do I like to sit when I fly"],
        answer="{seat[0]}",
    ),
    Family("mornings", "preference",
        beats=[["*F: call tomorrow at 8?",
                "*U: nothing before 10 please, I'm useless in the mornings"]],
        asks=["What's the earliest I'm happy to take a call?", "Am I a morning person?",
              "when is too early to ring me"],
        answer="nothing before 10",
        decoys=[["F: I'm up at 6 every day, it's a sickness"]],
    ),
    Family("spice", "preference",
        beats=[["*F: how hot do you want the curry?", "*U: the spicier the better honestly",
                "F: {fpartner} cried at a medium once"]],
        asks=["How spicy do I like my food?", "Can I handle a hot curry?",
              "what heat level should the curry be for me"],
        answer="the spicier the better",
    ),
    Family("horror", "preference",
        beats=[["F: film night! {horror}?",
                "*U: not a horror, I won't sleep for a week. anything else"]],
        asks=["What kind of film do I refuse to watch?", "Would I be up for a scary movie?",
              "which genre should we skip for movie night"],
        answer="horror",
        decoys=[["F: watched {horror2} last night, {fpartner} hid behind a cushion"]],
    ),
    Family("mountains", "preference",
        beats=[["F: beach or mountains this year?",
                "*U: mountains. I burn in ten minutes on a beach"]],
        asks=["Do I prefer beach holidays or the mountains?", "What sort of holiday do I like?",
              "where would I rather go: sand or hiking trails"],
        answer="mountains",
        decoys=[["F: {fpartner} only wants beaches, every single year"]],
    ),
    Family("wine", "preference",
        beats=[["*F: red or white for dinner?", "*U: {wine[0]} please, {wine[1]}",
                "F: I'm the opposite but fine"]],
        asks=["What wine do I drink?", "Should {F} pick up red or white for me?",
              "what should go in my glass at dinner"],
        answer="{wine[0]}",
        nones=["What's my favourite wine region?"],
    ),
    Family("shellfish", "preference",
        beats=[["*F: paella ok? it has prawns",
                "*U: ah I don't do shellfish, sorry! veggie one?", "F: veggie it is"]],
        asks=["Is there any seafood I don't eat?", "Can I have the prawn paella?",
              "what should {F} not cook for me"],
        answer="shellfish",
    ),
    Family("voice_notes", "preference",
        beats=[["*F: call you later?", "*U: voice notes are better, phone calls stress me out"]],
        asks=["Do I like phone calls?", "How do I prefer {F} to get in touch?",
              "calls or voice notes for me?"],
        answer="voice notes",
    ),
    Family("cats", "preference",
        beats=[["F: cat or dog person, settle this", "*U: cats. dogs are too much work",
                "F: wrong answer"]],
        asks=["Am I a cat or a dog person?", "Which pet do I prefer?",
              "which animal would I rather live with"],
        answer="cats",
    ),
    Family("winter", "preference",
        beats=[["*U: I'm a winter person honestly. the heat destroys me", "F: weirdo"]],
        asks=["Which season do I like best?", "Do I enjoy hot weather?",
              "summer or winter for me?"],
        answer="winter",
    ),
    Family("paper_books", "preference",
        beats=[["*F: just get a kindle!", "*U: never. paper books only, I like the smell"]],
        asks=["Would I read on an e-reader?", "What format do I like my books in?",
              "kindle or real books for me"],
        answer="paper books",
    ),
    Family("no_surprise", "preference",
        beats=[["*U: please never throw me a surprise party, I would actually die",
                "F: noted... for no reason"]],
        asks=["What kind of party should nobody throw me?", "Would I enjoy a surprise party?",
              "how do I feel about being ambushed on my birthday"],
        answer="surprise party",
    ),
    Family("cheese", "preference",
        beats=[["*F: dessert?", "*U: cheese board over dessert every time, I have no sweet tooth"]],
        asks=["Do I have a sweet tooth?", "Dessert or cheese for me?",
              "what do I order instead of pudding"],
        answer="cheese board",
    ),
    Family("glamping", "preference",
        beats=[["*F: camping this summer?", "*U: never again. glamping at the very most"]],
        asks=["Would I go camping again?", "How do I feel about sleeping in a tent?",
              "what's the most outdoorsy sleeping I'd accept"],
        answer="glamping",
    ),
    Family("car_music", "preference",
        beats=[["*F: what do you want on in the car?",
                "*U: anything but {genre}. {genre2} ideally"]],
        asks=["What music do I want in the car?", "Which genre do I like for road trips?",
              "what should {F} put on when I'm in the car"],
        answer="{genre2}",
    ),
    Family("swimming", "preference",
        beats=[["F: come to spin class with me!",
                "*U: gyms bore me to death. swimming is my thing"]],
        asks=["What's my favourite way to exercise?", "Would I join {F} at the gym?",
              "which sport do I actually enjoy"],
        answer="swimming",
    ),
    Family("tea", "preference",
        beats=[["*F: tea?", "*U: {tea}, no milk, thanks"]],
        asks=["What tea do I drink?", "How do I take my tea?",
              "what should {F} make me if I want a cuppa"],
        answer="{tea}",
        decoys=[["F: {fpartner} has {tea2} with three sugars, I can't watch"]],
    ),
    Family("board_game", "preference",
        beats=[["*F: game night! monopoly?", "*U: anything but monopoly. {game} though, always"]],
        asks=["Which board game do I love?", "What should we play at game night?",
              "is there a board game I'd always say yes to"],
        answer="{game}",
        nones=["Who usually wins at game night?"],
    ),
    Family("city_life", "preference",
        beats=[["*U: city forever. I could never live in the countryside, I need noise",
                "F: city rat"]],
        asks=["Do I prefer the city or the country?", "Would I move to the countryside?",
              "where would I be happiest living"],
        answer="city",
    ),
    Family("back_row", "preference",
        beats=[["*F: cinema tonight, where do you want to sit?", "*U: back row or nothing"]],
        asks=["Where do I like to sit at the cinema?", "Which seats should {F} book for a film?",
              "front, middle or back of the screen for me?"],
        answer="back row",
    ),
]
# fmt: on
FAMILIES = {"single": SINGLE, "when": WHEN, "multi": MULTI, "preference": PREFERENCE}


# =============================================================================
# small talk: greetings, goodbyes, chit-chat around the same people and places
# =============================================================================

# fmt: off
GREETINGS = [
    ["F: heyyy", "U: hey you!"], ["F: you alive?", "U: barely haha"],
    ["U: long time no talk!", "F: I know, life is chaos"], ["F: hiii", "U: hi!! how are you"],
    ["U: hey hey", "F: was literally about to text you"], ["U: hiiii", "F: heyy"],
    ["U: hello stranger", "F: hello!! sorry, mad week"], ["F: guess what", "U: what"],
    ["U: ok I have so much to tell you", "F: go"], ["F: how's your week going?", "U: survivable"],
]
MORNING = [["U: morning!", "F: morning ☀️"], ["F: good morning!!"], ["U: coffee #1, hi"]]
GOODBYES = [
    ["F: ok gotta run, talk later x", "U: byeee x"], ["F: speak soon!"], ["F: love you, bye"],
    ["U: off to cook, talk tomorrow?", "F: yes!!"], ["U: ok back to it 😩", "F: same"],
    ["F: gotta go, {fpartner} is calling"], ["U: battery dying, later!"],
]
NIGHT = [["U: bed time. night!", "F: night night"], ["F: ok sleep now. night x", "U: night x"]]
SMALL_TALK = [
    ["F: how's {partner}?", "U: good! busy with work. says hi"],
    ["U: how's {fpartner}?", "F: stressed but fine"],
    ["F: weather in {home}?", "U: grey. always grey", "F: 😂"],
    ["U: this week is never ending", "F: same. friday please come faster"],
    ["F: did you see the match?", "U: no spoilers!! watching it later"],
    ["U: mum called for an hour about her neighbours again", "F: classic {mum}"],
    ["F: I miss you", "U: miss you too!! when are you next in {home}?", "F: soon I hope"],
    ["U: made soup. I'm a chef now", "F: 👨‍🍳"],
    ["F: been back to {diner_any[0]}?", "U: not yet, need to go back"],
    ["U: the {city_any} photos are still my lock screen", "F: it looked so pretty"],
    ["F: what are you up to this weekend?", "U: nothing. sofa. you?", "F: same honestly"],
    ["U: work is mad", "F: mine too. {fpartner} says I talk about it too much"],
    ["F: lol", "U: 😂"], ["U: hahaha", "F: I know"], ["F: omg", "U: right??"],
    ["U: sorry was in a meeting", "F: no worries!"],
    ["F: {fpartner} says hi btw", "U: hi back!!"],
    ["F: how's {mum}?", "U: good! obsessed with her garden"],
    ["F: ok random but do you still have that {item_any}?", "U: somewhere in the cupboard"],
    ["U: I keep thinking about {city_any}", "F: go back!"],
    ["F: any plans for the weekend?", "U: {partner} wants to go hiking. I want to sleep"],
    ["U: my knee is being weird again", "F: stretch!!"],
    ["F: still on the same book for a month, it's a slog", "U: just drop it"],
    ["F: gym at 7 tomorrow, why did I agree", "U: because you're a hero"],
    ["U: made pasta from scratch", "F: who are you", "U: a changed person"],
    ["U: can't believe it's {weekday} already", "F: this week went so fast"],
    ["F: did you get home ok?", "U: yep! thanks for checking"],
    ["U: work drinks tonight, wish me luck", "F: just one drink!!", "U: famous last words"],
    ["U: {show_any} is so good right now", "F: no spoilers!!"],
    ["F: {band_any} announced a new album", "U: finally!!"],
    ["U: thinking of cutting my hair again", "F: you say that every month"],
    ["F: {hotel_any} popped up on my instagram", "U: haha it's following us"],
    ["U: my mum keeps sending me articles", "F: mine too lol"],
    ["F: what are you up to today?", "U: laundry and existential dread", "F: classic"],
    ["U: coffee is not working today", "F: double it"],
    ["F: that meme you sent 😭", "U: it's literally us"],
    ["U: {name_any} says hi", "F: aw hi to them"],
    ["F: have you talked to {name_any} lately?", "U: not really, I should"],
    ["U: the trains are on strike again", "F: of course they are"],
    ["F: {fhome} is so expensive now", "U: {home} too, it's insane"],
    ["U: did I tell you about the guy on the bus?", "F: no??", "U: later, too long"],
    ["F: I need a holiday", "U: we all do"], ["U: ugh mondays", "F: 🙃"],
    ["F: what did you have for dinner?", "U: cereal. don't judge"],
    ["U: {partner} is snoring already", "F: lucky"],
    ["F: my plant died", "U: which one?", "F: all of them"],
    ["U: went for a long walk by the water", "F: sounds lovely"],
    ["F: watching anything good?", "U: rewatching old stuff, too tired for new"],
    ["U: {diner_any[0]} was so good", "F: told you"],
    ["F: remember {city_any}? 😂", "U: never again. ok maybe again"],
    ["U: mum wants to learn emojis now", "F: 😂 dangerous"],
    ["F: what time is it there?", "U: same as yours, genius"],
    ["U: got caught in the rain", "F: umbrella, {U}. umbrella"],
    ["F: {fsis} says hi", "U: hi {fsis}!!"],
    ["U: 😴", "F: go to bed"],
]
# fmt: on


# =============================================================================
# people and their chats
# =============================================================================


@dataclass
class Line:
    who: str  # "U" or "F"
    text: str
    at: datetime | None = None
    event_id: str = ""
    source: str = ""


@dataclass
class Session:
    day: date
    source: str
    start: int  # seconds after midnight, UTC, unless it has to be earlier to fit the day
    chatty: float  # how much small talk it gets, relatively
    blocks: list[list[Line]] = field(default_factory=list)  # said in any order
    late: list[list[Line]] = field(default_factory=list)  # said last
    happened: bool = False  # holds the turn a `when` question is about

    def turns(self) -> int:
        return sum(len(b) for b in self.blocks + self.late)


@dataclass
class Question:
    kind: str
    text: str
    answer: str
    lines: list[Line]


@dataclass
class User:
    user_id: str
    name: str
    friend: str
    traits: dict[str, str]
    rng: random.Random
    ctx: dict[str, str] = field(default_factory=dict)
    local: dict[str, list] = field(default_factory=dict)  # pools of their own: streets
    taken: dict[str, list] = field(default_factory=dict)  # what each pool has given
    sessions: list[Session] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)
    nones: list[str] = field(default_factory=list)

    def draw(self, pool: str) -> Value:
        """A value of `pool` (or of its generator) this user has not had yet."""
        if pool in GENERATORS:
            return GENERATORS[pool](self.rng)
        used = self.taken.setdefault("person" if pool in PERSONS else pool, [])
        left = [v for v in self.local.get(pool) or POOLS[pool] if v not in used]
        if not left:
            raise ValueError(f"pool {pool!r} is too small for the families that draw from it")
        value = self.rng.choice(left)
        used.append(value)
        if pool in PERSONS:
            self.taken.setdefault(pool, []).append(value)
        return value

    def again(self, pool: str) -> Value:
        """A value of `pool` this user already has (small talk reuses the facts' entities)."""
        if pool in GENERATORS:
            return GENERATORS[pool](self.rng)
        drawn = [v for v in self.taken.get(pool, []) if v not in self.ctx.values()]
        return self.rng.choice(drawn or self.local.get(pool) or POOLS[pool])

    def line(self, raw: str, values: dict[str, Value]) -> Line:
        who, text = raw.lstrip("*").split(": ", 1)
        return Line(who, text.format(**values))


def slots(template: str) -> list[str]:
    """The names a template fills, `seat` for `{seat[0]}`."""
    names = [f for _, f, _, _ in Formatter().parse(template) if f]
    return [re.split(r"[.\[]", n)[0] for n in names]


def templates(f: Family) -> list[str]:
    return [
        *(t for beat in f.beats for t in beat),
        *(t for decoy in f.decoys for t in decoy),
        *f.asks,
        f.answer,
        *f.nones,
    ]


def live(u: User, f: Family) -> None:
    """Write one copy of `f` into the user's sessions, and the question about it."""
    values: dict[str, Value] = {}
    for template in templates(f):
        for name in slots(template):
            if name not in values:
                values[name] = u.ctx[name] if name in u.ctx else u.draw(name.rstrip("0123456789"))
    n = len(u.sessions)
    window = range(int(f.span[0] * n), int(f.span[1] * n))
    where = sorted(u.rng.sample(window, len(f.beats)))
    if f.kind == "when":  # one thing happens per session, while sessions are left for it
        for _ in range(50):
            if not u.sessions[where[-1]].happened:
                break
            where = sorted(u.rng.sample(window, len(f.beats)))
        u.sessions[where[-1]].happened = True
    evidence = []
    for beat, s in zip(f.beats, where, strict=True):
        block = [u.line(raw, values) for raw in beat]
        evidence += [line for raw, line in zip(beat, block, strict=True) if raw.startswith("*")]
        if f.night:  # an evening session, and the last thing said in it
            u.sessions[s].start = max(u.sessions[s].start, 18 * 3600)
            u.sessions[s].late.append(block)
        else:
            u.sessions[s].blocks.append(block)
    for decoy in f.decoys:
        u.rng.choice(u.sessions).blocks.append([u.line(raw, values) for raw in decoy])
    ask = u.rng.choice(f.asks).format(**values)
    u.questions.append(Question(f.kind, ask, f.answer.format(**values), evidence))
    u.nones += [t.format(**values) for t in f.nones]


def small_talk(u: User, table: list[list[str]]) -> list[Line]:
    values: dict[str, Value] = {}
    raw = u.rng.choice(table)
    for template in raw:
        for name in slots(template):
            if name in u.ctx:
                values[name] = u.ctx[name]
            elif name not in values:
                values[name] = u.again(name.removesuffix("_any"))
    return [u.line(r, values) for r in raw]


def make_user(index: int, seed: int) -> User:
    user_id, name, home, friend, fhome, relation, apps = PEOPLE[index]
    u = User(
        user_id,
        name,
        friend,
        {
            "name": name,
            "city": home,
            "friend": friend,
            "friend_city": fhome,
            "relationship": relation,
        },
        random.Random(seed * 100 + index),
    )
    everyone = {p[1] for p in PEOPLE} | {p[3] for p in PEOPLE}
    u.taken["person"] = sorted(everyone)
    u.taken["city"] = [home, fhome]
    u.local = {"street": STREETS[home], "fstreet": STREETS[fhome]}
    u.ctx = {"U": name, "F": friend, "home": home, "fhome": fhome}
    for slot, pool in (
        ("partner", "name"),
        ("mum", "woman"),
        ("sis", "woman"),
        ("fpartner", "name"),
        ("fsis", "woman"),
        ("fbro", "man"),
        ("newjob", "company"),
        ("newstreet", "street"),
        ("car", "car"),
    ):
        u.ctx[slot] = u.draw(pool)
    day = FIRST_DAY + timedelta(days=4 * index + u.rng.randrange(3))
    for _ in range(u.rng.randint(*SESSIONS)):
        app = apps[0] if u.rng.random() < 0.88 else apps[1]
        start = u.rng.randrange(DAY_START_S, DAY_LAST_S)
        u.sessions.append(Session(day, app, start, u.rng.uniform(0.5, 1.8)))
        day += timedelta(days=u.rng.randint(3, 10))
    return u


def gap(rng: random.Random) -> int:
    """Seconds to the next turn: mostly quick replies, now and then a pause."""
    r = rng.random()
    if r < 0.7:
        return rng.randint(15, 150)
    if r < 0.95:
        return rng.randint(150, 480)
    return rng.randint(600, 1500)


def chat(u: User) -> list[Line]:
    """Everything the pair said, in time order, each turn stamped and numbered."""
    for kind, families in FAMILIES.items():
        copies = [f for f in families for _ in range(f.repeat)]
        for f in u.rng.sample(copies, QUOTA[kind]):
            live(u, f)
    for none in u.rng.sample(sorted(set(u.nones)), QUOTA["none"]):
        u.questions.append(Question("none", none, "", []))
    u.rng.shuffle(u.questions)
    target = u.rng.randint(*TURNS)
    opening = [
        small_talk(u, GREETINGS + (MORNING if s.start < 11 * 3600 else [])) for s in u.sessions
    ]
    closing = [
        small_talk(u, GOODBYES + (NIGHT if s.start >= 19 * 3600 else []))
        if u.rng.random() < 0.8
        else []
        for s in u.sessions
    ]
    total = sum(s.turns() for s in u.sessions) + sum(map(len, opening + closing))
    deck: list[int] = []  # small talk is dealt like cards: each used before any twice
    while total < target:
        quiet = sorted(u.sessions, key=lambda s: s.turns() / s.chatty)[:4]
        session = u.rng.choice(quiet)
        if not deck:
            deck = u.rng.sample(range(len(SMALL_TALK)), len(SMALL_TALK))
        block = small_talk(u, [SMALL_TALK[deck.pop()]])
        session.blocks.append(block)
        total += len(block)
    lines: list[Line] = []
    for session, first, last in zip(u.sessions, opening, closing, strict=True):
        u.rng.shuffle(session.blocks)
        said = [line for block in [first, *session.blocks, *session.late, last] for line in block]
        gaps = [0] + [gap(u.rng) for _ in said[1:]]
        start = min(session.start, DAY_END_S - sum(gaps))
        if start < 7 * 3600:
            raise ValueError(f"a session of {u.user_id} is too long to fit in one day")
        at = datetime.combine(session.day, datetime.min.time(), UTC) + timedelta(seconds=start)
        for line, pause in zip(said, gaps, strict=True):
            at += timedelta(seconds=pause)
            line.at, line.source = at, session.source
        lines += said
    for n, line in enumerate(lines, 1):
        line.event_id = f"{u.user_id}_t{n:04d}"
    return lines


def check(u: User, lines: list[Line]) -> None:
    """The labels hold: the answer is in the labeled turns, or is their date; single,
    when and preference turns are adjacent; multi spans two sessions or more."""
    number = {id(line): n for n, line in enumerate(lines)}
    texts = [q.text for q in u.questions]
    if len(texts) != len(set(texts)):
        raise ValueError(f"{u.user_id} has a question twice")
    for q in u.questions:
        said = " ".join(line.text for line in q.lines).lower()
        days = {line.at.date() for line in q.lines if line.at}
        at = sorted(number[id(line)] for line in q.lines)
        adjacent = at == list(range(at[0], at[0] + len(at))) if at else True
        ok = {
            "single": 1 <= len(at) <= 2 and adjacent and q.answer.lower() in said,
            "preference": 1 <= len(at) <= 2 and adjacent and q.answer.lower() in said,
            "when": 1 <= len(at) <= 2 and adjacent and len(days) == 1,
            "multi": 2 <= len(at) <= 3 and len(days) >= 2 and q.answer.lower() in said,
            "none": not at and not q.answer,
        }[q.kind]
        if not ok:
            raise ValueError(f"{u.user_id}: the labels of {q.text!r} do not hold")


def stamp(at: datetime | None) -> str:
    assert at is not None
    return at.isoformat().replace("+00:00", "Z")


def build(seed: int = SEED) -> tuple[dict, dict]:
    users, events, questions = [], [], []
    for index in range(len(PEOPLE)):
        u = make_user(index, seed)
        lines = chat(u)
        for q in u.questions:
            if q.kind == "when":
                q.answer = stamp(q.lines[0].at)[:10]
        check(u, lines)
        users.append({"user_id": u.user_id, "traits": u.traits})
        for line in lines:
            events.append(
                {
                    "user_id": u.user_id,
                    "source": line.source,
                    "event_id": line.event_id,
                    "type": "message",
                    "timestamp": stamp(line.at),
                    "content": f"{u.name if line.who == 'U' else u.friend}: {line.text}",
                }
            )
        for n, q in enumerate(u.questions):
            questions.append(
                {
                    "qid": f"{u.user_id}_q{n:03d}",
                    "user_id": u.user_id,
                    "kind": q.kind,
                    "question": q.text,
                    "answer": q.answer,
                    "event_ids": sorted(line.event_id for line in q.lines),
                }
            )
    return {"users": users, "events": events}, {"questions": questions}


def dump(data: dict) -> str:
    """The text of one file, as `main` writes it."""
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    memories, questions = build()
    OUT.mkdir(exist_ok=True)
    for name, data in (("memories.json", memories), ("questions.json", questions)):
        (OUT / name).write_text(dump(data), encoding="utf-8")
    kinds: dict[str, int] = {}
    for q in questions["questions"]:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    print(f"{len(memories['events'])} events, {len(questions['questions'])} questions: {kinds}")


if __name__ == "__main__":
    main()
