"""A seeded sample corpus that walks every door of the pipeline.

`python -m datapipe.sample --docs N --out FILE [--seed S]` writes N JSONL lines (binary, since
some lines are deliberately not valid UTF-8 or JSON). Each record's id is "<kind>-<n:06d>", so a
test can check that the kind came out of the intended door:

    good              English prose that passes every default quality filter (kept)
    no_id             a good document without an "id" field (kept, id '<path>:<row>')
    dup               the text of a good document again, "dup_of" names it (exact duplicate)
    near              a good document with a few words changed, "near_of" names it (near duplicate)
    junk_short        too few words                        → gopher_quality
    junk_symbols      hashtags or ellipses                 → gopher_quality
    junk_repetition   repeated paragraphs or lines         → gopher_repetition
    junk_c4           lorem ipsum, a curly bracket, or too few sentences → c4
    junk_fineweb      a navigation menu, or a repeated boilerplate line  → fineweb
    junk_lang         French or German prose               → lang_id
    bad_json          a truncated or malformed JSON line   → rejected
    bad_utf8          invalid UTF-8 bytes or a lone surrogate → rejected
    bad_missing_text  an object without "text"             → rejected
    bad_text_type     "text" is a number or a list         → rejected
    bad_binary        a NUL-laden blob                     → rejected
    too_large         one prose document over 1,000,000 bytes (n_docs >= 200) → rejected

The prose comes from a small grammar (89 sentence templates, about 1,700 word forms in thirteen
topics). Templates are drawn without replacement within a document and have a slot every few
words, so a document rarely repeats a 5-gram of its own and shares almost none with another one
(word-5-gram Jaccard between good documents stays under 0.02).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path

MIN_DOCS = 20
"""Fewer documents cannot hold one of every junk and bad kind plus a few good ones."""

TOO_LARGE_MIN_DOCS = 200
"""The one too_large document (about 1 MB) appears only in corpora at least this big."""

JUNK_KINDS = ("junk_short", "junk_symbols", "junk_repetition", "junk_c4", "junk_fineweb", "junk_lang")
BAD_KINDS = ("bad_json", "bad_utf8", "bad_missing_text", "bad_text_type", "bad_binary", "no_id")
KINDS = ("good", "dup", "near", *JUNK_KINDS, *BAD_KINDS, "too_large")

# Shares of the corpus; "good" gets the rest (about 72%).
_DUP_SHARE, _NEAR_SHARE, _JUNK_SHARE, _BAD_SHARE = 0.08, 0.07, 0.10, 0.03
_NEAR_JACCARD = (0.86, 0.97)  # accepted word-5-gram Jaccard of a near duplicate to its original

# ---------------------------------------------------------------------------------------------
# Vocabulary. Nouns are singular (plurals by rule or _IRREGULAR), verbs "base/past[/participle]".

_TOPICS: dict[str, dict[str, str]] = {
    "science": dict(
        nouns="molecule enzyme protein sample experiment hypothesis laboratory microscope cell membrane "
        "particle detector spectrum crystal compound reaction catalyst genome microbe theory measurement "
        "instrument fossil mineral isotope sensor signal dataset simulation equation solvent centrifuge",
        verbs="measure/measured analyze/analyzed observe/observed test/tested isolate/isolated "
        "replicate/replicated calibrate/calibrated predict/predicted sequence/sequenced detect/detected "
        "confirm/confirmed challenge/challenged purify/purified model/modeled heat/heated",
        adjs="molecular experimental stable reactive microscopic thermal precise genetic chemical "
        "magnetic theoretical synthetic acidic radioactive",
        roles="chemist physicist biologist researcher technician geologist microbiologist statistician",
    ),
    "history": dict(
        nouns="empire treaty manuscript archive dynasty fortress chronicle rebellion monarchy colony "
        "parliament charter artifact battle siege guild cathedral monastery republic scroll coin census "
        "frontier alliance reform revolution kingdom province garrison ledger",
        verbs="sign/signed conquer/conquered found/founded abolish/abolished rebuild/rebuilt "
        "defend/defended negotiate/negotiated translate/translated excavate/excavated govern/governed "
        "document/documented besiege/besieged annex/annexed tax/taxed catalogue/catalogued",
        adjs="medieval ancient colonial imperial royal feudal forgotten contested civic rural baroque "
        "byzantine provincial dynastic",
        roles="historian archivist scholar archaeologist chronicler diplomat envoy cartographer",
    ),
    "cooking": dict(
        nouns="recipe sauce dough skillet oven broth spice onion garlic butter flour pastry tomato lemon "
        "vinegar marinade crust dumpling noodle kitchen bakery ingredient casserole fillet herb "
        "custard saffron lentil chutney brisket",
        verbs="simmer/simmered roast/roasted whisk/whisked bake/baked season/seasoned chop/chopped "
        "knead/kneaded braise/braised fry/fried stir/stirred taste/tasted serve/served "
        "marinate/marinated grill/grilled ferment/fermented",
        adjs="crispy savory tender golden fragrant smoky tangy buttery spicy homemade creamy rustic "
        "caramelized peppery",
        roles="chef baker cook butcher sommelier pastry chef caterer food writer",
    ),
    "travel": dict(
        nouns="itinerary passport hostel ferry railway airport harbor island village valley mountain "
        "trail guidebook suitcase museum market border coastline ticket journey excursion lighthouse "
        "plaza vineyard canyon glacier caravan monastery campsite promenade",
        verbs="explore/explored visit/visited wander/wandered book/booked cross/crossed hike/hiked "
        "photograph/photographed discover/discovered board/boarded pack/packed reach/reached "
        "navigate/navigated circle/circled climb/climbed",
        adjs="remote scenic crowded quiet coastal mountainous charming bustling historic sunny "
        "windswept affordable secluded picturesque",
        roles="traveler guide backpacker tourist pilot innkeeper ferry captain travel writer",
    ),
    "sports": dict(
        nouns="tournament championship stadium referee goalkeeper season league match marathon racket "
        "bicycle sprint trophy pitch court playoff penalty rookie roster injury scoreboard rivalry "
        "medal striker defender relay locker room halftime comeback",
        verbs="win/won defeat/defeated score/scored train/trained tackle/tackled coach/coached "
        "qualify/qualified recover/recovered celebrate/celebrated dominate/dominated lose/lost "
        "draft/drafted sprint/sprinted outplay/outplayed",
        adjs="athletic competitive defensive undefeated seasoned aggressive tactical decisive thrilling "
        "professional amateur injured relentless disciplined",
        roles="coach striker goalkeeper captain sprinter cyclist referee scout",
    ),
    "business": dict(
        nouns="startup investor revenue market quarter merger customer supplier contract budget "
        "strategy invoice warehouse shareholder dividend brand franchise forecast inventory profit "
        "loan portfolio acquisition retailer partnership factory payroll valuation subsidiary",
        verbs="invest/invested acquire/acquired launch/launched hire/hired expand/expanded "
        "reduce/reduced sell/sold restructure/restructured finance/financed report/reported "
        "audit/audited outsource/outsourced price/priced merge/merged",
        adjs="profitable quarterly global regional volatile lean strategic fiscal retail wholesale "
        "corporate bankrupt diversified lucrative",
        roles="founder executive accountant analyst manager entrepreneur consultant banker",
    ),
    "technology": dict(
        nouns="software processor database server network algorithm interface smartphone battery "
        "compiler protocol robot drone satellite circuit prototype firmware cable keyboard platform "
        "application chip router transistor headset camera repository terminal",
        verbs="design/designed deploy/deployed debug/debugged compile/compiled upgrade/upgraded "
        "encrypt/encrypted automate/automated install/installed optimize/optimized "
        "program/programmed index/indexed benchmark/benchmarked patch/patched",
        adjs="digital wireless portable efficient scalable reliable automated modular secure compact "
        "distributed virtual embedded handheld",
        roles="engineer developer programmer designer administrator architect technician tester",
    ),
    "nature": dict(
        nouns="forest river wetland meadow habitat predator owl salmon drought wildfire canopy "
        "seedling pollinator reef estuary migration ecosystem watershed fox heron beetle moss fern "
        "sparrow willow otter badger lichen marsh",
        verbs="migrate/migrated bloom/bloomed nest/nested flood/flooded restore/restored "
        "survey/surveyed protect/protected thrive/thrived erode/eroded track/tracked plant/planted "
        "shelter/sheltered feed/fed burrow/burrowed",
        adjs="native endangered wild seasonal fragile dense muddy alpine invasive resilient lush "
        "nocturnal migratory evergreen",
        roles="ranger ecologist volunteer forester birdwatcher naturalist botanist zoologist",
    ),
    "arts": dict(
        nouns="symphony orchestra album melody concert gallery painting sculpture canvas studio choir "
        "violin piano rehearsal festival exhibition poem novel chapter theater audience mural portrait "
        "lyric guitar sketchbook sonnet opera ballad manuscript",
        verbs="compose/composed perform/performed paint/painted record/recorded rehearse/rehearsed "
        "exhibit/exhibited sculpt/sculpted publish/published write/wrote/written direct/directed "
        "improvise/improvised sing/sang/sung illustrate/illustrated",
        adjs="acoustic abstract lyrical vibrant minimalist classical haunting theatrical melodic bold "
        "intimate experimental operatic whimsical",
        roles="composer painter novelist poet conductor sculptor guitarist curator",
    ),
    "health": dict(
        nouns="clinic patient vaccine therapy diagnosis hospital symptom treatment nutrition exercise "
        "diet prescription trial infection recovery vitamin muscle heart checkup pharmacy ward "
        "allergy fracture bandage stethoscope screening inhaler",
        verbs="treat/treated diagnose/diagnosed prescribe/prescribed vaccinate/vaccinated "
        "monitor/monitored examine/examined prevent/prevented heal/healed operate/operated "
        "screen/screened admit/admitted discharge/discharged",
        adjs="chronic clinical healthy preventive mild severe medical balanced routine nutritional "
        "contagious surgical pediatric cardiac",
        roles="doctor nurse surgeon physician pharmacist therapist dietitian paramedic",
    ),
    "education": dict(
        nouns="classroom student teacher curriculum lecture textbook exam semester university library "
        "scholarship homework seminar essay degree campus principal tutor lesson notebook dormitory "
        "syllabus thesis workshop debate laboratory",
        verbs="teach/taught learn/learned study/studied graduate/graduated enroll/enrolled "
        "lecture/lectured grade/graded review/reviewed tutor/tutored mentor/mentored "
        "assign/assigned memorize/memorized",
        adjs="academic rigorous introductory advanced bilingual public private online elementary "
        "collaborative vocational interdisciplinary",
        roles="teacher professor tutor principal student lecturer librarian dean",
    ),
    "city": dict(
        nouns="bridge tower skyscraper facade courtyard neighborhood subway avenue boulevard apartment "
        "blueprint foundation staircase balcony tram district rooftop tunnel viaduct sidewalk "
        "roundabout terrace arcade depot pavilion",
        verbs="construct/constructed renovate/renovated demolish/demolished zone/zoned pave/paved "
        "widen/widened inspect/inspected redesign/redesigned reopen/reopened survey/surveyed "
        "reinforce/reinforced",
        adjs="urban concrete modernist gothic sprawling pedestrian elevated industrial residential "
        "municipal crumbling",
        roles="architect planner surveyor mayor engineer builder councillor developer",
    ),
    "space": dict(
        nouns="galaxy comet asteroid nebula orbit planet telescope eclipse meteor moon constellation "
        "observatory rocket spacecraft crater probe rover launchpad quasar supernova satellite",
        verbs="launch/launched orbit/orbited observe/observed map/mapped detect/detected land/landed "
        "spot/spotted track/tracked image/imaged catalogue/catalogued",
        adjs="lunar solar orbital distant faint bright interstellar rocky icy massive celestial "
        "gaseous",
        roles="astronomer astronaut astrophysicist mission planner flight engineer stargazer",
    ),
}

_GENERAL_ADJS = (
    "careful unusual modest ambitious familiar ordinary remarkable small large narrow broad heavy "
    "fragile cheap expensive popular obscure sudden gradual clever honest patient stubborn curious "
    "quiet noisy gentle rough steady uneven early late recent former entire whole single simple "
    "complex practical elegant awkward generous humble surprising dramatic subtle detailed rare "
    "common local national brief lengthy bright dark crowded empty new old young fresh worn"
).split()
_DEGREE = "quite rather surprisingly remarkably fairly notably unusually barely almost largely".split()
_ADVERBS = (
    "carefully quietly slowly quickly eventually patiently openly briefly suddenly steadily "
    "reluctantly cheerfully gradually deliberately cautiously proudly repeatedly firmly nervously "
    "calmly eagerly boldly neatly thoroughly partly rarely often"
).split()
_CONNECTORS = (
    "However|Meanwhile|Still|Later|As a result|In practice|At first|Eventually|For many years|Even so|"
    "By contrast|In the end|Oddly enough|Not surprisingly|Before long|At the same time|In fact|"
    "Looking back|For a while|Years later|Around that time|Sure enough|On paper|Privately|"
    "Within a month|By then|Afterwards|Despite this|Unsurprisingly|To everyone's relief|Once again|"
    "Over the next decade|That spring|Some weeks later|From the start"
).split("|")
_PREPS = (
    "near beside behind inside across along under above after before around through within beyond toward against"
).split()
_FIRST = (
    "Maria James Aisha Kenji Olga Tomas Priya Daniel Fatima Lucas Elena Samuel Mei Omar Clara Victor "
    "Amara Henrik Sofia Mateo Ingrid Rahul Grace Pavel Leila Arthur Nadia Felix Rosa Hugo Yara Martin "
    "Chloe Ibrahim Hannah Diego Zara Oscar Helen Tariq Naomi Bruno Alice Kofi Eva Stefan Lina Marcus "
    "Ruth Julian Irene Noah Greta Emil Sara Adrian Lucia Thomas Esther Rafael Anika Liam Beatrice"
).split()
_LAST = (
    "Lopez Okafor Tanaka Novak Schmidt Patel Rossi Johansson Haddad Kowalski Nguyen Fischer Moreau "
    "Silva Andersen Mensah Ivanova Costa Brennan Yilmaz Dubois Kimura Larsen Herrera Osei Petrov "
    "Lindqvist Murphy Castillo Bauer Chen Abara Wright Fontaine Duarte Horvat Sato Whitaker Quinn "
    "Rahman Mbeki Varga Ortega Nakamura Hughes Eriksen Romano Kapoor Sullivan Weber Baptiste Holm "
    "Farouk Delgado Marsh Ueda Novotny Calloway Ferreira Lindgren"
).split()
_PLACES = (
    "Lisbon|Nairobi|Toronto|Osaka|Valparaíso|Tbilisi|Edinburgh|Hanoi|Krakow|Reykjavík|Marrakesh|"
    "Melbourne|Porto|Quebec City|Cork|Bergen|Cusco|Accra|Seville|Tallinn|Ljubljana|Halifax|Dunedin|"
    "Kyoto|Bruges|Zanzibar|Manchester|Adelaide|Tromsø|Oaxaca|Vilnius|Galway|Lyon|Hobart|Winnipeg|"
    "Bristol|Montevideo|Cape Town|Penang|Kraków|Antwerp|Savannah|Nantes|Trieste|Tucson|Gdansk|Leeds|"
    "São Paulo|Zürich|Malmö|Durban|Sapporo|Glasgow|Boise|Madurai|Bologna|Aberdeen|Santa Fe|Ottawa|"
    "Wellington|Lagos|Kathmandu|Fez|Hamburg|Brisbane|Asheville|Plymouth|Saskatoon|Riga|Split|Chiang Mai"
).split("|")
_REGIONS = (
    "the northern valleys|the old harbor district|the coastal plain|the river delta|the eastern hills|"
    "the city center|the lake country|the southern border|the mountain villages|the industrial suburbs|"
    "the island chain|the high plateau|the western provinces|the old quarter|the farming towns"
).split("|")
_INSTITUTIONS = (
    "Institute|Museum|Historical Society|City Council|University|Foundation|Trust|Public Library|"
    "Observatory|Cooperative|Association|Research Center|Academy|Chamber of Commerce|Heritage Board|"
    "Botanical Garden|Conservatory|Medical School|Rowing Club|Trading Company"
).split("|")
_FIRM_SUFFIX = "Partners|Holdings|Brothers|and Sons|Group|Works|Labs|Studio|Collective|Supply".split("|")
_MONTHS = "January February March April May June July August September October November December".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_SEASONS = "spring summer autumn winter".split()
_NUM_WORDS = "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty".split()
_UNITS = "days weeks months years hours seasons evenings".split()
_PRONOUNS = "they she he we".split()
_IRREGULAR = {
    "hypothesis": "hypotheses", "analysis": "analyses", "thesis": "theses", "tomato": "tomatoes",
    "potato": "potatoes", "hero": "heroes", "locker room": "locker rooms", "pastry chef": "pastry chefs",
    "ferry captain": "ferry captains", "travel writer": "travel writers", "food writer": "food writers",
    "mission planner": "mission planners", "flight engineer": "flight engineers",
}

_TIMES = (
    "in {year}|during the {season} of {year}|last {day}|early the next {season}|by the end of {year}|"
    "late one {day} evening|in the {decade}|a few {units} later|every {season}|before {month}|"
    "after the {season} rains|in the middle of {month}|on a cold {day} morning|over {numw} {units}|"
    "shortly after {year}|throughout the {decade}|for {numw} {units} in a row|that {month}"
).split("|")

# One sentence each. A slot every few words keeps fixed runs of five words rare. Slots:
# P person, R role, np/the_n/a_n/ns noun phrases, adj, pred, vp/vb/v3/vpp verbs, pp, time,
# conn, clause, place, org, region, year, decade, month, day, season, numw, numd, units, adv.
_TEMPLATES = (
    "{conn}, {P} {vp} {the_n} {pp}.",
    "In {year}, {org} {vp} {a_n} that {clause}.",
    "{P}, {a_R} from {place}, {vp} {the_n} {pp} {time}.",
    "Nobody expected {the_n} to matter so much, yet {clause}.",
    "Why would anyone {vb} {the_n} {pp}?",
    "{The_n} {v3} {ns} more {adv} than {the_n2} ever could.",
    "According to {P}, {clause} because {clause}.",
    "The {adj} {n} near {place} was {pred} {time}.",
    "By {month} {year}, {numw} {ns} had been {vpp} {pp}.",
    "{P} still remembers the {season} when {clause}.",
    "There were {numw} {adj} {ns} {pp}, and each one was {pred}.",
    "It took {numw} {units} for {P} to {vb} {the_n} {pp}.",
    "What made {the_n} so {pred} was that {clause}.",
    "{conn}, {numw} {ns} from {place} were {vpp} {time}.",
    "Critics argued that {clause}, while supporters said {clause}.",
    "Few people outside {region} knew that {clause}.",
    "{P} often says that {the_n} {v3} {the_n2} {pp}.",
    "Most of the {ns} {vp} {pp} were {pred}, and a few were {pred2}.",
    "On a {gadj} {day} in {month}, {clause}.",
    "{P} and {P} {vp} {the_n} together {pp}.",
    "The first {n} arrived {time}, and {clause} soon after.",
    "Is it possible that {clause}?",
    "{P} {adv} {vp} {the_n}, then {vp} {the_n2} {pp}.",
    "For {P}, the hardest part was learning to {vb} {ns} {pp}.",
    "The {R} {vp} {a_n} {pp} and wrote down {numd} separate notes about it.",
    "{conn}, {clause}, although {clause}.",
    "Local newspapers in {place} described {the_n} as {pred} {time}.",
    "Nearly {numd} {ns} were {vpp} {pp} {time}.",
    "{P} {vp} {numw} {adj} {ns} with help from {org}.",
    "Some visitors thought {the_n} looked {pred}, but {clause}.",
    "The {gadj} {R} named {Pfull} {vp} {the_n} {time}.",
    "If {P} had not {vpp} {the_n} {pp}, {clause}.",
    "{The_n} {pp} {v3} {adv} whenever {the_n2} {v3} {ns}.",
    "Ask {P} about {the_n} and {pron} will tell you that {clause}.",
    "{conn}, {org} {vp} the plan to {vb} {ns} {pp}.",
    "Each {season}, {ns} from {region} are {vpp} {pp}.",
    "{P} kept {a_n} {pp} for {numw} {units} before {clause}.",
    "The report from {org} noted that {clause}.",
    "Nobody in {place} had ever {vpp} {a_n} quite like it.",
    "Two things changed {time}: {clause}, and {clause}.",
    "{P} {vp} {the_n} {adv}, which surprised {P} more than anyone.",
    "The {adj} {n} that {P} {vp} {time} is now {pred}.",
    "How did {numw} {R_pl} manage to {vb} {the_n} {pp}?",
    "{conn}, {pron} {vp} {a_n} and {vp} {the_n2} {pp}.",
    "There is a {gadj} story about how {clause}.",
    "With {numw} {ns} and {a_n}, {P} {vp} {the_n2} {pp}.",
    "{The_n} was {pred}, so {clause}.",
    "{P} {vp} {the_n} in {place} and later {vp} {ns} in {place}.",
    "The {ns} {pp} were {vpp} {time}, long after {clause}.",
    "{conn}, the {R_pl} of {region} {vp} {numw} {adj} {ns}.",
    "When {clause}, {P} {adv} {vp} {a_n} {pp}.",
    "Even {the_n} seemed {pred} compared with {the_n2} {pp}.",
    "What would happen if {clause}?",
    "During the {decade}, {org} {vp} more {ns} than any rival in {place}.",
    "A {gadj} {R} told {P} that {clause}.",
    "That {n} cost {numd} dollars, and {clause}.",
    "{P} {vp} {numw} {ns} {pp}, then {adv} {vp} {a_n}.",
    "The old {n} {pp} had been {vpp} {time} by {org}.",
    "{conn}, {clause}; {clause}.",
    "Those who {vp} {the_n} {time} still argue that {clause}.",
    "Between {year} and {year2}, {clause}.",
    "{P} had planned to {vb} {the_n} {pp}, but {clause}.",
    "Not every {n} is {pred}, and {clause}.",
    "The {gadj} {ns} {v3_pl} {pp} every {season}.",
    "It was {P} who first {vp} {the_n} {pp}.",
    "{The_n} and {the_n2} were both {vpp} {time}.",
    "Without {a_n}, {P} could not {vb} {ns} {pp}.",
    "{conn}, {numd} {R_pl} gathered in {place} to {vb} {the_n}.",
    "Instead of {the_n}, {P} {vp} {a_n} {pp}.",
    "No one could {vb} {the_n} faster than {P} did {time}.",
    "What a {gadj} {season} it was when {clause}!",
    "The {ns} of {place} are {pred}, and {clause}.",
    "Just outside {place}, {clause}.",
    "{P} remembers {numw} {ns} and {a_n} {pp}.",
    "For {numw} {units}, {org} {adv} {vp} {ns} {pp}.",
    "People in {region} {vp} {the_n} {pp}, even though {clause}.",
    "{conn}, the {adj} {n} was {vpp} and {vpp2} {time}.",
    "Do the {ns} really {vb} {the_n} {pp}?",
    "{P} {vp} {the_n} for {org}, and {clause}.",
    "A {adj} {n} {pp} can {vb} {ns} {adv}.",
    "{The_n} changed everything for {P} {time}.",
    "Long before {clause}, {P} had {vpp} {ns} {pp}.",
    "It is {pred} how {the_n} {v3} {the_n2}.",
    "{conn}, a {gadj} {R} from {region} {vp} {the_n} {pp}.",
    "Only {numw} {ns} survived {time}, and {clause}.",
    "By most accounts, {clause}.",
    "{P} liked to {vb} {the_n} {adv} {pp}.",
    "The people at {org} still {vb} {ns} {pp}.",
    "Surely {the_n} deserved better than {the_n2} {pp}!",
)

_CLAUSES = (
    "{subj} {vp} {the_n}",
    "{subj} {vp} {a_n} {pp}",
    "{subj} had {vpp} {the_n} {pp}",
    "{subj} would {vb} {ns} {time}",
    "{subj} could not {vb} {the_n} {pp}",
    "{the_n} was {vpp} {pp}",
    "{numw} {ns} were {vpp} {time}",
    "{subj} began to {vb} {ns} {pp}",
    "{subj} {adv} {vp} {ns}",
    "{the_n} seemed {pred} {pp}",
    "{subj} refused to {vb} {the_n}",
    "{subj} {vp} {numw} {adj} {ns}",
    "{the_n} {pp} was {pred}",
    "{subj} tried to {vb} {a_n} {time}",
)
_SUBJECTS = ("{P}", "{P}", "{P}", "{the_n}", "{pron}", "{org}", "the {R}", "{numw} {R_pl}")

_SLOT = re.compile(r"\{(\w+)\}")
# "a" written by a template before a slot that turned out to start with a vowel
_A_BEFORE_VOWEL = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])(?!uni|use|eu|one)")


def _plural(noun: str) -> str:
    if noun in _IRREGULAR:
        return _IRREGULAR[noun]
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in tuple("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


def _third_person(base: str) -> str:
    if base.endswith(("s", "x", "z", "ch", "sh", "o")):
        return base + "es"
    if base.endswith("y") and base[-2:-1] not in tuple("aeiou"):
        return base[:-1] + "ies"
    return base + "s"


def _article(phrase: str) -> str:
    w = phrase.lower()
    an = w[0] in "aeiou" and not w.startswith(("uni", "use", "eu", "one"))
    return ("an " if an or w.startswith(("hour", "honest")) else "a ") + phrase


class _Lexicon:
    """The word lists of one topic, expanded once."""

    def __init__(self, spec: dict[str, str]):
        self.nouns = spec["nouns"].split()
        self.plurals = [_plural(n) for n in self.nouns]
        verbs = [v.split("/") for v in spec["verbs"].split()]
        self.base = [v[0] for v in verbs]
        self.past = [v[1] for v in verbs]
        self.participle = [v[-1] for v in verbs]
        self.third = [_third_person(v[0]) for v in verbs]
        self.adjs = spec["adjs"].split()
        self.roles = _join_roles(spec["roles"].split())  # some are two words: "pastry chef"
        self.role_plurals = [_plural(r) for r in self.roles]


def _join_roles(words: list[str]) -> list[str]:
    """Re-join the two-word roles of a space-separated role list."""
    two_word = {tuple(k.split()) for k in _IRREGULAR if " " in k}
    out, i = [], 0
    while i < len(words):
        if tuple(words[i : i + 2]) in two_word:
            out.append(" ".join(words[i : i + 2]))
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out


_LEXICONS = {name: _Lexicon(spec) for name, spec in _TOPICS.items()}
_TOPIC_NAMES = tuple(_TOPICS)


class _Writer:
    """Writes English prose from the grammar; one instance per document."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.main, self.second = (_LEXICONS[t] for t in rng.sample(_TOPIC_NAMES, 2))
        last = rng.sample(_LAST, 4)
        self.cast = [f"{rng.choice(_FIRST)} {s}" for s in last]
        self.introduced: set[str] = set()
        self.turn = rng.randrange(len(self.cast))
        self.place = rng.choice(_PLACES)
        self.year = rng.randint(1780, 2023)

    # -- slot fillers --------------------------------------------------------------------------
    def lex(self) -> _Lexicon:
        return self.main if self.rng.random() < 0.75 else self.second

    def pick(self, attr: str) -> str:
        return self.rng.choice(getattr(self.lex(), attr))

    def adj(self) -> str:
        return self.pick("adjs") if self.rng.random() < 0.6 else self.rng.choice(_GENERAL_ADJS)

    def noun_phrase(self, det: str) -> str:
        r = self.rng.random()
        noun = self.pick("nouns")
        if r < 0.45:
            return f"{det} {noun}" if det else noun
        if r < 0.8:
            phrase = f"{self.adj()} {noun}"
        elif r < 0.9:
            phrase = f"{self.adj()}, {self.rng.choice(_GENERAL_ADJS)} {noun}"
        elif det == "the":  # a possessive replaces the article: "Rossi's notebook"
            return f"{self.person().split()[-1]}'s {noun}"
        else:
            phrase = f"{self.rng.choice(_GENERAL_ADJS)} {noun}"
        return f"{det} {phrase}" if det else phrase

    def person(self) -> str:
        self.turn = (self.turn + 1) % len(self.cast)
        name = self.cast[self.turn]
        if name not in self.introduced:
            self.introduced.add(name)
            return name
        r = self.rng.random()
        if r < 0.6:
            return name.split()[-1]
        if r < 0.8:
            return name.split()[0]
        return name

    def org(self) -> str:
        if self.rng.random() < 0.65:
            place = self.place if self.rng.random() < 0.5 else self.rng.choice(_PLACES)
            return f"the {place} {self.rng.choice(_INSTITUTIONS)}"
        return f"{self.rng.choice(_LAST)} {self.rng.choice(_FIRM_SUFFIX)}"

    def year_(self) -> str:
        self.year = min(2024, max(1700, self.year + self.rng.randint(-12, 15)))
        return str(self.year)

    def numd(self) -> str:
        rng = self.rng
        return f"{rng.choice((rng.randint(13, 99), rng.randint(100, 950), rng.randint(1, 40) * 100)):,}"

    def pp(self) -> str:
        rng = self.rng
        r = rng.random()
        prep = rng.choice(_PREPS)
        if r < 0.55:
            return f"{prep} {self.noun_phrase('the')}"
        if r < 0.75:
            place = self.place if rng.random() < 0.5 else rng.choice(_PLACES)
            return f"{rng.choice(('in', 'near', 'outside', 'around'))} {place}"
        if r < 0.9:
            return f"{prep} {rng.choice(_REGIONS)}"
        return f"{prep} {self.person()}'s {self.pick('nouns')}"

    def pred(self) -> str:
        a = self.rng.choice(_GENERAL_ADJS) if self.rng.random() < 0.7 else self.pick("adjs")
        degree = self.rng.choice(_DEGREE)
        return f"{degree} {a}" if self.rng.random() < 0.6 and degree[:5] != a[:5] else a

    def fill(self, template: str) -> str:
        return _SLOT.sub(lambda m: self.slot(m.group(1)), template)

    def slot(self, key: str) -> str:
        rng = self.rng
        cap = key[0].isupper() and key not in ("P", "Pfull", "R", "R_pl")
        k = key.lower() if cap else key
        if k == "year2":  # a later year than the one just written
            self.year = min(2024, self.year + rng.randint(3, 30))
            return str(self.year)
        k = k.rstrip("2")
        if k == "P":
            out = self.person()
        elif k == "Pfull":
            out = self.cast[rng.randrange(len(self.cast))]
            self.introduced.add(out)
        elif k == "R":
            out = self.pick("roles")
        elif k == "a_R":
            out = _article(f"{self.adj()} {self.pick('roles')}" if rng.random() < 0.5 else self.pick("roles"))
        elif k == "R_pl":
            out = self.pick("role_plurals")
        elif k == "the_n":
            out = self.noun_phrase("the")
        elif k == "a_n":
            out = _article(self.noun_phrase(""))
        elif k == "n":
            out = self.pick("nouns")
        elif k == "ns":
            out = self.pick("plurals") if rng.random() < 0.7 else f"{self.adj()} {self.pick('plurals')}"
        elif k == "adj":
            out = self.adj()
        elif k == "gadj":
            out = rng.choice(_GENERAL_ADJS)
        elif k == "pred":
            out = self.pred()
        elif k == "vp":
            out = self.pick("past")
        elif k == "vb":
            out = self.pick("base")
        elif k == "v3":
            out = self.pick("third")
        elif k == "v3_pl":
            out = self.pick("base")
        elif k == "vpp":
            out = self.pick("participle")
        elif k == "adv":
            out = rng.choice(_ADVERBS)
        elif k == "pp":
            out = self.pp()
        elif k == "time":
            out = self.fill(rng.choice(_TIMES))
        elif k == "conn":
            out = rng.choice(_CONNECTORS)
        elif k == "clause":
            out = self.fill(rng.choice(_CLAUSES).replace("{subj}", rng.choice(_SUBJECTS), 1))
        elif k == "pron":
            out = rng.choice(_PRONOUNS)
        elif k == "place":
            out = self.place if rng.random() < 0.4 else rng.choice(_PLACES)
        elif k == "region":
            out = rng.choice(_REGIONS)
        elif k == "org":
            out = self.org()
        elif k == "year":
            out = self.year_()
        elif k == "decade":
            out = f"{rng.randint(175, 201)}0s"
        elif k == "month":
            out = rng.choice(_MONTHS)
        elif k == "day":
            out = rng.choice(_DAYS)
        elif k == "season":
            out = rng.choice(_SEASONS)
        elif k == "numw":
            out = rng.choice(_NUM_WORDS)
        elif k == "numd":
            out = self.numd()
        elif k == "units":
            out = rng.choice(_UNITS)
        else:
            raise KeyError(f"unknown template slot {key!r}")
        return out[0].upper() + out[1:] if cap else out

    # -- sentences and documents ---------------------------------------------------------------
    def sentence(self, template: str) -> str:
        s = _A_BEFORE_VOWEL.sub(r"\1n ", self.fill(template))
        return s[0].upper() + s[1:]

    def sentences(self, n: int) -> list[str]:
        return [self.sentence(t) for t in self.rng.sample(_TEMPLATES, n)]

    def document(self, min_words: int = 150, max_words: int = 600) -> str:
        """3-8 one-line paragraphs of 2-5 sentences, min_words..max_words words in all."""
        while True:
            paras = self._paragraphs(min_words, max_words)
            words = [w for p in paras for s in p for w in s.split(" ")]
            # a few long-worded topic mixes land just above gopher-typical lengths: draw again
            if min_words <= len(words) <= max_words and sum(map(len, words)) <= 6.0 * len(words):
                return "\n\n".join(" ".join(p) for p in paras)

    def _paragraphs(self, min_words: int, max_words: int) -> list[list[str]]:
        rng = self.rng
        target = rng.randint(min_words + 20, max_words - 40)
        n_par = rng.randint(max(3, math.ceil(target / 80)), min(8, max(3, target // 34)))
        templates = iter(rng.sample(_TEMPLATES, 8 * 5))
        paras: list[list[str]] = [[] for _ in range(n_par)]
        words = 0
        for p in paras:
            for _ in range(2):
                s = self.sentence(next(templates))
                p.append(s)
                words += s.count(" ") + 1
        open_paras = [p for p in paras if len(p) < 5]
        while words < target and open_paras:
            p = rng.choice(open_paras)
            s = self.sentence(next(templates))
            p.append(s)
            words += s.count(" ") + 1
            if len(p) == 5:
                open_paras.remove(p)
        while words > max_words:  # rare: long sentences overshot; trim from the longest paragraph
            p = max(paras, key=len)
            words -= p.pop().count(" ") + 1
        return paras


# ---------------------------------------------------------------------------------------------
# Junk: each kind passes the filters that run before its target and fails the target.
# Cleaning runs lang_id, gopher_repetition, gopher_quality, c4, fineweb in that order.

_LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "Placeholder copy follows: lorem ipsum dolor sit amet, sed diam nonummy nibh euismod.",
)
_CURLY = (
    'To reproduce the error, set the field to {"mode": "fast", "retries": 3} and restart the service.',
    "The welcome message reads Hello {first_name}, your order {order_id} has shipped.",
    "Our template engine replaces {{ title }} with the page title before it is sent.",
    "Paste the block {color: red; margin: 0} into the stylesheet and reload the page.",
    "In the config file, the line servers = {alpha, beta} lists the two backends.",
    "The function returns {} when the cache is empty, which confused several users.",
)
_NAV_ITEMS = (
    "Home|About Us|Contact|Shop All|New Arrivals|Gift Cards|Size Guide|Store Locator|Careers|Press|"
    "Blog|Help Center|Returns|Shipping Info|Track Order|My Account|Wishlist|Sale|Women|Men|Kids|"
    "Accessories|Footwear|Outerwear|Brands|Best Sellers|Clearance|Sitemap|Affiliates|Investors|"
    "Student Discount|Gift Ideas|Lookbook|Our Story|Sustainability|Newsletter|Community|Events|"
    "Rewards Program|Order Status|Payment Options|Customer Reviews|Home Decor|Kitchen|Garden|"
    "Electronics|Toys and Games|Books|Music|Sports and Outdoors|Beauty|Pet Supplies|Office|Deals"
).split("|")
_SHORT_LINES = (  # each at most 26 characters, so FineWeb counts every kept line as short
    "Sign up to the newsletter.|Free shipping on orders!|Call us at any time.|Join the club and save.|"
    "Follow us for the news.|All prices include tax.|Back to the top.|Made with care in Leeds.|"
    "Thank you for visiting!|Returns are always free.|Ask the team a question.|Open seven days a week.|"
    "New styles every Friday.|Gift wrapping is free.|Read the latest reviews.|Find a store near you.|"
    "Share your photos with us!|Mark the date of the sale.|We ship to every country.|"
    "Questions? Chat with us.|Loved by our customers.|Prices valid until Sunday."
).split("|")
_BOILERPLATE = (
    "Subscribe to our weekly newsletter for more stories like this.",
    "Share this article with your friends and family.",
    "Read the full story in our weekend print edition.",
    "This story was updated with additional reporting.",
    "Click the link below to see more photos from the event.",
)
_FOREIGN = {
    "fr": (
        "Le marché du village ouvre chaque samedi matin, et les habitants viennent acheter des légumes frais.",
        "Depuis plusieurs années, la municipalité essaie de protéger les vieilles maisons du centre historique.",
        "Nous avons pris le train de nuit pour Marseille, puis un bateau vers la Corse.",
        "La boulangerie au coin de la rue vend le meilleur pain de tout le quartier.",
        "Les chercheurs de l'université ont publié une étude sur la qualité de l'eau des rivières.",
        "Il faisait très chaud cet été-là, et les enfants passaient leurs journées au bord du lac.",
        "Selon le maire, les travaux de la nouvelle bibliothèque seront terminés avant la fin de l'année.",
        "Ma grand-mère préparait toujours une soupe aux poireaux quand il pleuvait le dimanche.",
        "L'équipe locale a gagné le championnat régional après une saison difficile mais passionnante.",
        "Les touristes se promènent dans les ruelles étroites et admirent les façades colorées.",
        "Le musée présente une exposition consacrée aux peintres impressionnistes et à leurs paysages.",
        "Beaucoup d'entreprises cherchent des employés capables de parler plusieurs langues étrangères.",
        "On raconte que le château a été construit au douzième siècle par un seigneur très ambitieux.",
        "Les agriculteurs s'inquiètent de la sécheresse qui menace une grande partie des récoltes.",
        "Après le dîner, nous avons discuté pendant des heures de politique, de musique et de voyages.",
        "La ville a décidé de planter des centaines d'arbres pour rafraîchir les quartiers les plus denses.",
        "Le professeur explique que la lecture quotidienne améliore la concentration des élèves.",
        "Il est difficile de trouver un logement abordable dans les grandes villes du pays.",
        "Le festival attire chaque année des milliers de visiteurs venus de toute l'Europe.",
        "Elle a quitté son emploi à Paris pour ouvrir une petite librairie en Bretagne.",
        "Les médecins recommandent de marcher au moins trente minutes par jour pour rester en bonne santé.",
        "Le vieux pont de pierre traverse la rivière depuis plus de trois cents ans.",
        "Nous espérons que le gouvernement prendra des mesures concrètes pour aider les jeunes familles.",
        "Pendant les vacances, la plage est pleine de familles qui profitent du soleil et de la mer.",
    ),
    "de": (
        "Der Bahnhof der kleinen Stadt wurde im letzten Jahr vollständig renoviert und modernisiert.",
        "Am Wochenende fahren viele Familien mit dem Fahrrad an den See, um dort zu picknicken.",
        "Die Forscher der Universität haben eine neue Methode zur Reinigung von Abwasser entwickelt.",
        "Meine Großmutter backt jeden Sonntag einen Apfelkuchen nach einem alten Familienrezept.",
        "Nach Angaben der Stadtverwaltung sollen die Bauarbeiten an der Brücke bis zum Herbst dauern.",
        "Im Winter ist das Dorf oft tagelang eingeschneit, und die Kinder bauen Schneemänner im Garten.",
        "Der Verein sucht dringend neue Mitglieder, die sich für den Naturschutz engagieren möchten.",
        "Viele Unternehmen haben Schwierigkeiten, qualifizierte Fachkräfte für ihre Betriebe zu finden.",
        "Das Museum zeigt eine Ausstellung über die Geschichte der Schifffahrt auf dem Rhein.",
        "Wir sind mit dem Zug nach Wien gefahren und haben dort eine Woche bei Freunden verbracht.",
        "Die Mannschaft hat das entscheidende Spiel in der letzten Minute doch noch gewonnen.",
        "Seit Jahren steigen die Mieten in den großen Städten schneller als die Löhne der meisten Menschen.",
        "Der Arzt empfiehlt, jeden Tag ausreichend Wasser zu trinken und regelmäßig spazieren zu gehen.",
        "Auf dem Markt kann man frisches Gemüse, Käse und Brot aus der Region kaufen.",
        "Die Lehrerin erklärt den Schülern geduldig, wie man einen guten Aufsatz schreibt.",
        "Das alte Schloss auf dem Hügel wurde im Mittelalter von einem mächtigen Grafen erbaut.",
        "Im Sommer finden in der Altstadt zahlreiche Konzerte unter freiem Himmel statt.",
        "Die Bauern hoffen auf Regen, weil die Trockenheit einen großen Teil der Ernte bedroht.",
        "Sie hat ihre Stelle in Berlin gekündigt, um in den Bergen eine kleine Pension zu eröffnen.",
        "Nach dem Abendessen haben wir stundenlang über Politik, Musik und Reisen gesprochen.",
        "Die Regierung plant, mehr Geld in den Ausbau der Schulen und Kindergärten zu investieren.",
        "Jedes Jahr besuchen Tausende von Touristen den berühmten Weihnachtsmarkt in der Innenstadt.",
        "Der Fluss ist nach den starken Regenfällen über die Ufer getreten und hat mehrere Straßen überflutet.",
    ),
}


def _words(text: str) -> int:
    return len(text.split())


_PROPER = {w for names in (_FIRST, _LAST, _MONTHS, _DAYS) for w in names} | {p.split()[0] for p in _PLACES}


def _decapitalize(sentence: str) -> str:
    """Lower-case the first letter unless the sentence starts with a name."""
    first = sentence.split(" ", 1)[0].rstrip(",':;").removesuffix("'s")
    return sentence if first in _PROPER else sentence[0].lower() + sentence[1:]


def _junk_short(rng: random.Random) -> str:
    w = _Writer(rng)
    while True:
        text = " ".join(w.sentences(rng.randint(2, 3)))
        words = text.split()
        # Well under gopher's 50 words, still long enough for language ID. In so short a text
        # gopher_repetition's top n-gram rule fires first on any repeated 2-gram, and even on a
        # single long 4-gram (it does not require the top n-gram to occur twice).
        if 20 <= len(words) < 45 and len(set(zip(words, words[1:]))) == len(words) - 1:
            longest = max(sum(map(len, g)) + 3 for g in zip(words, words[1:], words[2:], words[3:]))
            if longest < 0.12 * len(text):
                return text


def _junk_symbols(rng: random.Random) -> str:
    w = _Writer(rng)
    paras = [" ".join(w.sentences(rng.randint(2, 4))) for _ in range(rng.randint(2, 3))]
    n = sum(map(_words, paras))
    if rng.random() < 0.5:
        # a social-media tail of hashtags: far more '#' than gopher's 0.1 per word
        # (a dict, not a set: set order follows PYTHONHASHSEED and the bytes must not)
        tags = list(dict.fromkeys(f"#{w.pick(rng.choice(('nouns', 'adjs'))).replace(' ', '')}"
                                  for _ in range(n // 3 + 5)))
        tags += [f"#{rng.choice(_PLACES).replace(' ', '')}{y}" for y in rng.sample(range(2010, 2025), 4)]
        rng.shuffle(tags)
        paras.append(" ".join(tags))
    else:
        # trailing-off speech: an ellipsis every few words
        out = []
        for p in paras:
            toks = p.split(" ")
            for i in range(rng.randrange(3), len(toks) - 1, rng.randint(3, 5)):
                toks[i] = toks[i].rstrip(".,!?") + "..."
            out.append(" ".join(toks).rstrip(".!?") + "...")
        paras = out
    return "\n\n".join(paras)


def _junk_repetition(rng: random.Random) -> str:
    w = _Writer(rng)
    if rng.random() < 0.5:
        # one paragraph pasted over and over
        para = " ".join(w.sentences(rng.randint(2, 4)))
        paras = [para] * rng.randint(3, 6) + [" ".join(w.sentences(3))]
        return "\n\n".join(paras)
    # an advert line between every paragraph
    ad = w.sentence(rng.choice(_TEMPLATES))
    lines = []
    for _ in range(rng.randint(4, 7)):
        lines += [" ".join(w.sentences(rng.randint(2, 3))), ad]
    return "\n\n".join(lines)


def _junk_c4(rng: random.Random) -> str:
    w = _Writer(rng)
    r = rng.random()
    if r < 0.7:
        paras = w.document().split("\n\n")
        bad = rng.choice(_LOREM) if r < 0.35 else rng.choice(_CURLY)
        paras.insert(rng.randrange(1, len(paras) + 1), bad)
        return "\n\n".join(paras)
    # enough words for gopher, too few sentences for C4: three long compound sentences
    while True:
        pairs = [w.sentences(2) for _ in range(3)]
        text = " ".join(f"{a.rstrip('.!?')}, and {_decapitalize(b)}" for a, b in pairs)
        if _words(text) >= 60:
            return text


def _junk_fineweb(rng: random.Random) -> str:
    w = _Writer(rng)
    if rng.random() < 0.5:
        # a shop page: a navigation menu around short slogans; C4 keeps only the slogans, all short
        items = rng.sample(_NAV_ITEMS, rng.randint(24, 36))
        # gopher_quality wants two stop words, and the menu items may have none
        with_stop = [s for s in _SHORT_LINES if {"the", "to", "and", "with"} & set(s.split())]
        slogans = rng.sample(with_stop, 2)
        slogans += rng.sample([s for s in _SHORT_LINES if s not in slogans], rng.randint(5, 8))
        rng.shuffle(slogans)
        cut = rng.randint(8, len(items) - 8)
        return "\n\n".join(["\n".join(items[:cut]), "\n".join(slogans), "\n".join(items[cut:])])
    # an article with a boilerplate line pasted twice: under gopher's repetition limits,
    # over FineWeb's 1% of characters in duplicated lines
    paras = w.document(200, 600).split("\n\n")
    line = rng.choice(_BOILERPLATE)
    paras.insert(0, line)
    paras.append(line)
    return "\n\n".join(paras)


def _junk_lang(rng: random.Random) -> str:
    pool = _FOREIGN[rng.choice(sorted(_FOREIGN))]
    while True:
        sents = rng.sample(pool, rng.randint(5, 12))
        cuts = sorted(rng.sample(range(1, len(sents)), rng.randint(0, 2)))
        paras = [" ".join(sents[a:b]) for a, b in zip([0, *cuts], [*cuts, len(sents)])]
        text = "\n\n".join(paras)
        if _words(text) >= 60:
            return text


_JUNK = {
    "junk_short": _junk_short,
    "junk_symbols": _junk_symbols,
    "junk_repetition": _junk_repetition,
    "junk_c4": _junk_c4,
    "junk_fineweb": _junk_fineweb,
    "junk_lang": _junk_lang,
}


# ---------------------------------------------------------------------------------------------
# Near duplicates: swap single words for others of the same part of speech.

def _build_swaps() -> dict[str, tuple[str, ...]]:
    swaps: dict[str, tuple[str, ...]] = {}
    groups = [_GENERAL_ADJS, _ADVERBS]
    for lex in _LEXICONS.values():
        groups += [lex.nouns, lex.plurals, lex.past, lex.base, lex.adjs]
    for group in groups:
        single = tuple(w for w in group if " " not in w)
        for w in single:
            swaps.setdefault(w, single)
    return swaps


_SWAPS = _build_swaps()


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams of lower-cased, whitespace-split text (what the near-dup checks compare)."""
    words = text.lower().split()
    return set(zip(*(words[i:] for i in range(n))))


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _near_duplicate(rng: random.Random, text: str) -> str:
    """Swap words one at a time until the 5-gram Jaccard to `text` drops to a drawn target."""
    lo, hi = _NEAR_JACCARD
    target = rng.uniform(lo + 0.02, hi - 0.02)
    original = shingles(text)
    paras = [p.split(" ") for p in text.split("\n\n")]
    slots = [(i, j) for i, p in enumerate(paras) for j, tok in enumerate(p) if tok.rstrip(".,!?;:") in _SWAPS]
    rng.shuffle(slots)
    best = text
    for i, j in slots:
        tok = paras[i][j]
        core = tok.rstrip(".,!?;:")
        choices = [w for w in _SWAPS[core] if w != core]
        if not choices:
            continue
        before = paras[i][j]
        paras[i][j] = rng.choice(choices) + tok[len(core):]
        candidate = "\n\n".join(" ".join(p) for p in paras)
        sim = jaccard(original, shingles(candidate))
        if sim < lo:  # one swap too many (a short document): keep the last good version
            paras[i][j] = before
            if best != text:
                break
            continue
        best = candidate
        if sim <= target:
            break
    return best


def _whitespace_variant(rng: random.Random, text: str) -> str:
    """The same text after whitespace normalization: CRLF, doubled or trailing spaces, padding."""
    r = rng.randrange(4)
    if r == 0:
        return text.replace("\n", "\r\n")
    if r == 1:
        return text.replace(". ", ".  ")
    if r == 2:
        return text.replace("\n\n", "  \n\n")
    return f"  {text}\n"


# ---------------------------------------------------------------------------------------------
# Bad records: each one is rejected by the reader, before cleaning.

_INVALID_UTF8 = (b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80\x81", b"\xed\xa0\x80", b"\xfe\xfe", b"\xc0\xaf")


def _dumps(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _bad_json(rng: random.Random, doc_id: str, text: str) -> bytes:
    line = json.dumps({"id": doc_id, "text": text}, ensure_ascii=False)
    r = rng.randrange(4)
    if r == 0:  # truncated mid-record, as by a killed writer
        line = line[: rng.randint(len(line) // 4, len(line) - 2)]
    elif r == 1:
        line = line[:-1] + ", }"  # trailing comma
    elif r == 2:
        line = line.replace('"text"', "text", 1)  # unquoted key
    else:
        line = line.replace('"', "'")  # Python repr, not JSON
    return line.encode("utf-8")


def _bad_utf8(rng: random.Random, doc_id: str, text: str) -> bytes:
    if rng.random() < 0.25:  # valid JSON and valid bytes, but a lone surrogate escape
        words = text.split(" ")
        k = rng.randrange(len(words))
        head = _dumps({"id": doc_id, "text": " ".join(words[:k])})[:-2]  # without the closing quote and brace
        return head + b"\\ud83d " + _dumps(" ".join(words[k:]))[1:] + b"}"
    raw = _dumps({"id": doc_id, "text": text})
    start = raw.index(b'"text": "') + 9
    spaces = [i for i in range(start, len(raw) - 2) if raw[i] == 0x20]
    for i in sorted(rng.sample(spaces, min(len(spaces), rng.randint(1, 4))), reverse=True):
        raw = raw[:i] + rng.choice(_INVALID_UTF8) + raw[i:]
    return raw


def _bad_missing_text(rng: random.Random, doc_id: str, text: str) -> bytes:
    field = rng.choice(("body", "content", "Text", "txt", None))
    return _dumps({"id": doc_id, "text": None} if field is None else {"id": doc_id, field: text})


def _bad_text_type(rng: random.Random, doc_id: str, text: str) -> bytes:
    r = rng.randrange(3)
    value = rng.randint(0, 10**6) if r == 0 else text.split("\n\n") if r == 1 else {"en": text}
    return _dumps({"id": doc_id, "text": value})


# PNG, zip and ELF magic numbers, or none
_BINARY_HEADERS = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"PK\x03\x04\x14\x00\x00\x00", b"\x7fELF\x02\x01\x01\x00", b"")


def _bad_binary(rng: random.Random, doc_id: str, text: str) -> bytes:
    header = rng.choice(_BINARY_HEADERS)
    body = bytes(0 if rng.random() < 0.35 else rng.randrange(1, 256) for _ in range(rng.randint(200, 3000)))
    # every byte becomes the code point of that value; ensure_ascii writes the NULs as \u0000
    return json.dumps({"id": doc_id, "text": (header + body).decode("latin-1")}).encode("ascii")


_BAD = {
    "bad_json": _bad_json,
    "bad_utf8": _bad_utf8,
    "bad_missing_text": _bad_missing_text,
    "bad_text_type": _bad_text_type,
    "bad_binary": _bad_binary,
}


def _too_large(rng: random.Random) -> str:
    parts, size = [], 0
    while size <= 1_000_000:
        parts.append(_Writer(rng).document(400, 600))
        size += len(parts[-1].encode("utf-8")) + 2
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The corpus.

def kind_counts(n_docs: int) -> dict[str, int]:
    """How many documents of each kind a corpus of n_docs holds (in KINDS order)."""
    if n_docs < MIN_DOCS:
        raise ValueError(f"the sample corpus needs at least {MIN_DOCS} documents, got {n_docs}")
    counts = dict.fromkeys(KINDS, 0)
    counts["dup"] = max(1, round(n_docs * _DUP_SHARE))
    counts["near"] = max(1, round(n_docs * _NEAR_SHARE))
    for kind in JUNK_KINDS:
        counts[kind] = max(1, round(n_docs * _JUNK_SHARE / len(JUNK_KINDS)))
    for kind in BAD_KINDS:
        counts[kind] = max(1, round(n_docs * _BAD_SHARE / len(BAD_KINDS)))
    counts["too_large"] = int(n_docs >= TOO_LARGE_MIN_DOCS)
    counts["good"] = n_docs - sum(counts.values())
    return counts


def generate(n_docs: int, seed: int = 0) -> list[bytes]:
    """The corpus as raw JSONL lines (no trailing newline), in a seeded shuffled order."""
    counts = kind_counts(n_docs)
    rng = random.Random(seed)
    ids = Counter()

    def next_id(kind: str) -> str:
        ids[kind] += 1
        return f"{kind}-{ids[kind] - 1:06d}"

    lines: list[bytes] = []
    good: list[tuple[str, str]] = []
    for _ in range(counts["good"]):
        doc_id, text = next_id("good"), _Writer(rng).document()
        good.append((doc_id, text))
        lines.append(_dumps({"id": doc_id, "text": text}))
    for _ in range(counts["no_id"]):
        next_id("no_id")  # counted like the others, but the record carries no id
        lines.append(_dumps({"text": _Writer(rng).document()}))
    for _ in range(counts["dup"]):
        of, text = rng.choice(good)
        if rng.random() < 0.3:
            text = _whitespace_variant(rng, text)
        lines.append(_dumps({"id": next_id("dup"), "text": text, "dup_of": of}))
    for _ in range(counts["near"]):
        of, text = rng.choice(good)
        lines.append(_dumps({"id": next_id("near"), "text": _near_duplicate(rng, text), "near_of": of}))
    for kind, make in _JUNK.items():
        for _ in range(counts[kind]):
            lines.append(_dumps({"id": next_id(kind), "text": make(rng)}))
    for kind, make in _BAD.items():
        for _ in range(counts[kind]):
            lines.append(make(rng, next_id(kind), _Writer(rng).document()))
    for _ in range(counts["too_large"]):
        lines.append(_dumps({"id": next_id("too_large"), "text": _too_large(rng)}))
    rng.shuffle(lines)
    return lines


def write_corpus(path: str | Path, n_docs: int, seed: int = 0) -> dict[str, int]:
    """Write generate(n_docs, seed) to `path` (.gz and .zst compress); return the kind counts."""
    data = b"\n".join(generate(n_docs, seed)) + b"\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)  # mtime=0 keeps the bytes reproducible
    elif path.suffix in (".zst", ".zstd"):
        import zstandard

        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return kind_counts(n_docs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datapipe.sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=3000, help="number of records (at least %d)" % MIN_DOCS)
    parser.add_argument("--out", required=True, help="output .jsonl file (.jsonl.gz / .jsonl.zst compress)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; same seed and size, same bytes")
    args = parser.parse_args(argv)
    if args.docs < MIN_DOCS:
        parser.error(f"--docs must be at least {MIN_DOCS}, got {args.docs}")
    try:
        counts = write_corpus(args.out, args.docs, args.seed)
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{k}={v}" for k, v in counts.items() if v)
    print(f"wrote {args.docs} records to {args.out} ({summary})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
