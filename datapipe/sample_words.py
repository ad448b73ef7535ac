"""The sample corpus's word lists and junk texts (datapipe/sample.py writes the corpus from them).

Nouns are singular (plurals by rule or IRREGULAR), verbs "base/past[/participle]"; templates fill
slots like {P} (a person) and {the_n} (a topic noun with its article).
"""
from __future__ import annotations

# ---------------------------------------------------------------------------------------------
# Vocabulary. Nouns are singular (plurals by rule or IRREGULAR), verbs "base/past[/participle]".

TOPICS: dict[str, dict[str, str]] = {
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

GENERAL_ADJS = (
    "careful unusual modest ambitious familiar ordinary remarkable small large narrow broad heavy "
    "fragile cheap expensive popular obscure sudden gradual clever honest patient stubborn curious "
    "quiet noisy gentle rough steady uneven early late recent former entire whole single simple "
    "complex practical elegant awkward generous humble surprising dramatic subtle detailed rare "
    "common local national brief lengthy bright dark crowded empty new old young fresh worn"
).split()
DEGREE = "quite rather surprisingly remarkably fairly notably unusually barely almost largely".split()
ADVERBS = (
    "carefully quietly slowly quickly eventually patiently openly briefly suddenly steadily "
    "reluctantly cheerfully gradually deliberately cautiously proudly repeatedly firmly nervously "
    "calmly eagerly boldly neatly thoroughly partly rarely often"
).split()
CONNECTORS = (
    "However|Meanwhile|Still|Later|As a result|In practice|At first|Eventually|For many years|Even so|"
    "By contrast|In the end|Oddly enough|Not surprisingly|Before long|At the same time|In fact|"
    "Looking back|For a while|Years later|Around that time|Sure enough|On paper|Privately|"
    "Within a month|By then|Afterwards|Despite this|Unsurprisingly|To everyone's relief|Once again|"
    "Over the next decade|That spring|Some weeks later|From the start"
).split("|")
PREPS = (
    "near beside behind inside across along under above after before around through within beyond toward against"
).split()
FIRST = (
    "Maria James Aisha Kenji Olga Tomas Priya Daniel Fatima Lucas Elena Samuel Mei Omar Clara Victor "
    "Amara Henrik Sofia Mateo Ingrid Rahul Grace Pavel Leila Arthur Nadia Felix Rosa Hugo Yara Martin "
    "Chloe Ibrahim Hannah Diego Zara Oscar Helen Tariq Naomi Bruno Alice Kofi Eva Stefan Lina Marcus "
    "Ruth Julian Irene Noah Greta Emil Sara Adrian Lucia Thomas Esther Rafael Anika Liam Beatrice"
).split()
LAST = (
    "Lopez Okafor Tanaka Novak Schmidt Patel Rossi Johansson Haddad Kowalski Nguyen Fischer Moreau "
    "Silva Andersen Mensah Ivanova Costa Brennan Yilmaz Dubois Kimura Larsen Herrera Osei Petrov "
    "Lindqvist Murphy Castillo Bauer Chen Abara Wright Fontaine Duarte Horvat Sato Whitaker Quinn "
    "Rahman Mbeki Varga Ortega Nakamura Hughes Eriksen Romano Kapoor Sullivan Weber Baptiste Holm "
    "Farouk Delgado Marsh Ueda Novotny Calloway Ferreira Lindgren"
).split()
PLACES = (
    "Lisbon|Nairobi|Toronto|Osaka|Valparaíso|Tbilisi|Edinburgh|Hanoi|Krakow|Reykjavík|Marrakesh|"
    "Melbourne|Porto|Quebec City|Cork|Bergen|Cusco|Accra|Seville|Tallinn|Ljubljana|Halifax|Dunedin|"
    "Kyoto|Bruges|Zanzibar|Manchester|Adelaide|Tromsø|Oaxaca|Vilnius|Galway|Lyon|Hobart|Winnipeg|"
    "Bristol|Montevideo|Cape Town|Penang|Kraków|Antwerp|Savannah|Nantes|Trieste|Tucson|Gdansk|Leeds|"
    "São Paulo|Zürich|Malmö|Durban|Sapporo|Glasgow|Boise|Madurai|Bologna|Aberdeen|Santa Fe|Ottawa|"
    "Wellington|Lagos|Kathmandu|Fez|Hamburg|Brisbane|Asheville|Plymouth|Saskatoon|Riga|Split|Chiang Mai"
).split("|")
REGIONS = (
    "the northern valleys|the old harbor district|the coastal plain|the river delta|the eastern hills|"
    "the city center|the lake country|the southern border|the mountain villages|the industrial suburbs|"
    "the island chain|the high plateau|the western provinces|the old quarter|the farming towns"
).split("|")
INSTITUTIONS = (
    "Institute|Museum|Historical Society|City Council|University|Foundation|Trust|Public Library|"
    "Observatory|Cooperative|Association|Research Center|Academy|Chamber of Commerce|Heritage Board|"
    "Botanical Garden|Conservatory|Medical School|Rowing Club|Trading Company"
).split("|")
FIRM_SUFFIX = "Partners|Holdings|Brothers|and Sons|Group|Works|Labs|Studio|Collective|Supply".split("|")
MONTHS = "January February March April May June July August September October November December".split()
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
SEASONS = "spring summer autumn winter".split()
NUM_WORDS = "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty".split()
UNITS = "days weeks months years hours seasons evenings".split()
PRONOUNS = "they she he we".split()
IRREGULAR = {
    "hypothesis": "hypotheses", "analysis": "analyses", "thesis": "theses", "tomato": "tomatoes",
    "potato": "potatoes", "hero": "heroes", "locker room": "locker rooms", "pastry chef": "pastry chefs",
    "ferry captain": "ferry captains", "travel writer": "travel writers", "food writer": "food writers",
    "mission planner": "mission planners", "flight engineer": "flight engineers",
}

TIMES = (
    "in {year}|during the {season} of {year}|last {day}|early the next {season}|by the end of {year}|"
    "late one {day} evening|in the {decade}|a few {units} later|every {season}|before {month}|"
    "after the {season} rains|in the middle of {month}|on a cold {day} morning|over {numw} {units}|"
    "shortly after {year}|throughout the {decade}|for {numw} {units} in a row|that {month}"
).split("|")

# One sentence each. A slot every few words keeps fixed runs of five words rare. Slots:
# P person, R role, np/the_n/a_n/ns noun phrases, adj, pred, vp/vb/v3/vpp verbs, pp, time,
# conn, clause, place, org, region, year, decade, month, day, season, numw, numd, units, adv.
TEMPLATES = (
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

CLAUSES = (
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
SUBJECTS = ("{P}", "{P}", "{P}", "{the_n}", "{pron}", "{org}", "the {R}", "{numw} {R_pl}")

# ---------------------------------------------------------------------------------------------
# Junk: each kind passes the filters that run before its target and fails the target.
# Cleaning runs lang_id, gopher_repetition, gopher_quality, c4, fineweb in that order.

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "Placeholder copy follows: lorem ipsum dolor sit amet, sed diam nonummy nibh euismod.",
)
CURLY = (
    'To reproduce the error, set the field to {"mode": "fast", "retries": 3} and restart the service.',
    "The welcome message reads Hello {first_name}, your order {order_id} has shipped.",
    "Our template engine replaces {{ title }} with the page title before it is sent.",
    "Paste the block {color: red; margin: 0} into the stylesheet and reload the page.",
    "In the config file, the line servers = {alpha, beta} lists the two backends.",
    "The function returns {} when the cache is empty, which confused several users.",
)
NAV_ITEMS = (
    "Home|About Us|Contact|Shop All|New Arrivals|Gift Cards|Size Guide|Store Locator|Careers|Press|"
    "Blog|Help Center|Returns|Shipping Info|Track Order|My Account|Wishlist|Sale|Women|Men|Kids|"
    "Accessories|Footwear|Outerwear|Brands|Best Sellers|Clearance|Sitemap|Affiliates|Investors|"
    "Student Discount|Gift Ideas|Lookbook|Our Story|Sustainability|Newsletter|Community|Events|"
    "Rewards Program|Order Status|Payment Options|Customer Reviews|Home Decor|Kitchen|Garden|"
    "Electronics|Toys and Games|Books|Music|Sports and Outdoors|Beauty|Pet Supplies|Office|Deals"
).split("|")
SHORT_LINES = (  # each at most 26 characters, so FineWeb counts every kept line as short
    "Sign up to the newsletter.|Free shipping on orders!|Call us at any time.|Join the club and save.|"
    "Follow us for the news.|All prices include tax.|Back to the top.|Made with care in Leeds.|"
    "Thank you for visiting!|Returns are always free.|Ask the team a question.|Open seven days a week.|"
    "New styles every Friday.|Gift wrapping is free.|Read the latest reviews.|Find a store near you.|"
    "Share your photos with us!|Mark the date of the sale.|We ship to every country.|"
    "Questions? Chat with us.|Loved by our customers.|Prices valid until Sunday."
).split("|")
BOILERPLATE = (
    "Subscribe to our weekly newsletter for more stories like this.",
    "Share this article with your friends and family.",
    "Read the full story in our weekend print edition.",
    "This story was updated with additional reporting.",
    "Click the link below to see more photos from the event.",
)
# Consent-manager, "enable JavaScript" and sign-in walls (sample_pages.CONSENT_PAGES), pages that are all boilerplate. Lines
# are "|"-separated; {site}, {domain}, {n} (vendors), {vendor}, {year} and {ray} are filled per page. A "banner" line is
# "{who} {use} {tech} to {purpose}, {purpose} and {purpose}." and one to three "close" sentences.
CONSENT = {k: v.split("|") for k, v in dict(
    who=("We|We and our {n} partners|{site} and its partners|We and selected third parties|We and our {n} vendors|"
         "This website and its partners|Together with our advertising partners, we"),
    use="use|store and/or access|may use|place|rely on|set",
    tech=("cookies|cookies and similar technologies|information on your device, such as cookies,|technologies such as "
          "cookies and pixels|cookies and device identifiers|unique identifiers and browsing data"),
    purpose=("personalise content and ads|provide social media features|analyse our traffic|measure ad performance|"
             "develop and improve our products|understand our audiences|remember your preferences|deliver relevant "
             "advertising|keep the site secure|enhance site navigation|analyze site usage|assist in our marketing "
             "efforts|create profiles for personalised advertising|measure content performance"),
    close=("We also share information about your use of our site with our social media, advertising and analytics "
           "partners.|You can change your preferences or withdraw your consent at any time.|Some of our partners "
           "process your data on the basis of legitimate interest, which you can object to.|Your choices will apply "
           "to this website only.|Click Accept to consent, or Manage to choose what you allow.|Withdrawing your "
           "consent may affect some features of the service.|If you are under 16, ask your legal guardian for "
           "permission first.|Necessary cookies are always on, because the site cannot work without them.|Please "
           "note that some processing of your personal data may not require your consent.|You can find out more in "
           "our privacy notice."),
    title=("We value your privacy|Your privacy matters to us|Privacy settings|This website uses cookies|Cookie consent|"
           "{site} respects your privacy|Before you continue to {site}|Your privacy, your choice|Privacy preference "
           "center|Manage your cookie settings"),
    purposes=("Store and/or access information on a device|Use limited data to select advertising|Create profiles "
              "for personalised advertising|Use profiles to select personalised content|Measure advertising "
              "performance|Develop and improve services|Understand audiences through statistics or combinations of "
              "data from different sources|Ensure security, prevent and detect fraud, and fix errors|Deliver and "
              "present advertising and content|Use precise geolocation data|Actively scan device characteristics for "
              "identification|Match and combine data from other data sources|Link different devices"),
    category=("Strictly necessary cookies|These cookies are necessary for the website to function and cannot be "
              "switched off.|Performance cookies|These cookies let us count visits and traffic sources.|Functional "
              "cookies|Targeting cookies|These cookies may be set by our advertising partners to build a profile of "
              "your interests.|Always active|Analytics cookies|Marketing cookies|Preferences|Statistics|Necessary"),
    button=("Accept all|Accept All Cookies|Reject all|Reject All|Manage preferences|Manage options|Cookie settings|"
            "Customise choices|Save and exit|Confirm my choices|Allow all|Allow selection|Use necessary cookies only|"
            "I agree|Agree and close|Show details|More options|Learn more|Got it!|Continue without accepting"),
    vendor=("{vendor}|{vendor}|{vendor}|{vendor}|{vendor} (view privacy policy)|{vendor}: consent, legitimate "
            "interest|Manage consent for {n} vendors|List of IAB vendors|{n} vendors use your data for these purposes."),
    javascript=("You need to enable JavaScript to run this app.|Your browser does not support JavaScript, or it is "
                "turned off.|Please enable JavaScript in your browser settings and reload the page.|This site "
                "requires JavaScript to work properly.|JavaScript is disabled in your browser. Please enable it to "
                "continue.|Your browser is out of date. Update your browser for more security, speed and the best "
                "experience on this site.|You are using an unsupported browser. Please upgrade to the latest version "
                "of Chrome, Firefox, Safari or Edge.|Checking your browser before accessing {domain}.|This process is "
                "automatic. Your browser will redirect to your requested content shortly.|Please allow up to 5 "
                "seconds.|Ray ID: {ray}|Performance and security by Cloudflare|Verifying you are human. This may take "
                "a few seconds."),
    subscribe=("Sign in|Sign in to your account|Subscribe to continue reading.|You have reached your limit of free "
               "articles this month.|Already a subscriber? Log in.|Create a free account to keep reading.|Sign up for "
               "our newsletter|Subscribe to our newsletter and get the latest news delivered to your inbox.|Enter "
               "your email address|Forgot your password?|Don't have an account? Register now.|Subscribe now for "
               "unlimited access to {site}."),
    nav=("Skip to main content|Skip to content|Jump to navigation|Main menu|Toggle navigation|Search this site|Back to "
         "top|You are here: Home|Menu|Close"),
    footer=("© {year} {site}. All rights reserved.|Copyright {year} {site}. All Rights Reserved.|Privacy Policy · Terms "
            "of Use · Cookie Policy|Terms and Conditions|Do Not Sell or Share My Personal Information|Your Privacy "
            "Choices|Powered by WordPress|Contact us|Accessibility statement|Follow us on Facebook, Twitter and "
            "Instagram"),
).items()}
CONSENT_VENDORS = ("Google|Criteo|Xandr|Index Exchange|OpenX|PubMatic|Magnite|Taboola|Outbrain|Quantcast|Amazon Ads|"
                   "The Trade Desk|Sovrn|TripleLift|Teads|Seedtag|LiveRamp|Lotame|ID5|Adform|Sharethrough|GumGum|"
                   "Yieldmo|Ogury|Permutive|Comscore|Nielsen|Microsoft Advertising").split("|")
SITE_WORDS = "Gazette Herald Chronicle Post Times Journal Review Courier Tribune Weekly Recipes Travel Forum".split()
FOREIGN = {
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
