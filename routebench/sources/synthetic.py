"""The embedded default dataset: a RouterBench-shaped table generated locally from a seed.

Queries come from eight tasks named after RouterBench's (multiple-choice knowledge, grade-school
science, grade-school math word problems, Python code writing, pronoun resolution, sentence
completion, open-ended chat and reading comprehension), each with its own prompt templates and
vocabularies, so prompts are mostly unique and their text predicts the task.

Scores are 0/1 draws from ``sigmoid(base_i + offset_it - difficulty_j + noise_ij)``: LLM i's
base skill is calibrated so its mean score matches a target (RouterBench's per-LLM means by
default), ``offset_it`` is its task-specific strength, ``difficulty_j`` the query's (a few
queries are out of every LLM's reach) and ``noise_ij`` a per-query, per-LLM idiosyncrasy, which
is why the per-query oracle is right far more often than any single LLM.

Costs (USD) are ``input_tokens x input price + output_tokens x output price`` with prices per
1M tokens from ``sources.yaml``; input tokens are counted from the prompt text
(characters / 4, scaled by the task's unseen context such as few-shot examples), output tokens
depend on the task (code and math answers are long) and on the LLM's verbosity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from routebench.dataset import DatasetError, MissingPolicy, RouteTable, check_matrices
from routebench.errors import ParamError
from routebench.seeding import rng as seeded_rng
from routebench.sources import Source, register, source_config

DEFAULT_N = 36_497
DEFAULT_MODELS = 11
MAX_MODELS = 64

# --------------------------------------------------------------------------- vocabularies
_NAMES = np.array(
    "Ava Ben Chloe Daniel Elena Felix Grace Hugo Iris Jonah Kira Liam Maya Noah Olivia Pavel "
    "Quinn Rosa Samir Tara Umar Vera Wes Xena Yusuf Zoe Aaron Bianca Carlos Dina Emil Farah "
    "Gustav Hana Ivan Julia Kenji Lena Marco Nadia".split()
)
_ITEMS = np.array(
    "apples marbles stickers pencils cookies stamps seashells books cupcakes balloons coins "
    "cards beads tomatoes eggs muffins candles buttons ribbons postcards".split()
)
_CONTAINERS = np.array("boxes bags crates baskets jars packs trays cartons".split())
_SUBJECTS = np.array(
    [
        "high school biology", "college chemistry", "astronomy", "high school physics",
        "anatomy", "electrical engineering", "conceptual physics", "college biology",
        "virology", "nutrition", "medical genetics", "high school chemistry", "geology",
        "machine learning", "econometrics", "clinical knowledge", "computer security",
        "abstract algebra", "formal logic", "world religions",
    ]
)
_PHENOMENA = np.array(
    [
        "the role of ribosomes in protein synthesis", "the conservation of angular momentum",
        "the redshift of distant galaxies", "the function of mitochondrial membranes",
        "the catalytic effect of enzymes", "the behaviour of an ideal gas under compression",
        "the transmission of action potentials", "the formation of covalent bonds",
        "the inheritance of recessive alleles", "the photoelectric effect",
        "the lifecycle of a retrovirus", "the absorption of vitamin B12",
        "the resistance of a wire as temperature rises", "the overfitting of a classifier",
        "the heteroskedasticity of regression residuals", "the formation of igneous rock",
        "a buffer overflow attack", "the order of a finite group element",
        "the validity of a modus tollens argument", "the electronegativity trend in a period",
        "the Doppler shift of sound", "the half-life of a radioactive isotope",
        "osmotic pressure across a membrane", "the Krebs cycle", "antibody class switching",
    ]
)
_MC_OPTIONS = np.array(
    [
        "an increase in entropy", "a decrease in activation energy", "a change in pH",
        "the binding of a cofactor", "an exchange of electrons", "thermal equilibrium",
        "a shift in the reference frame", "a loss of kinetic energy", "an external torque",
        "a feedback inhibition loop", "a mutation in a regulatory gene", "a stronger field",
        "a lower boiling point", "a higher frequency", "the law of mass action",
        "quantised energy levels", "a symmetric key", "a larger sample variance",
        "a cyclic subgroup", "an invalid premise", "the first law of thermodynamics",
        "a hydrogen bond", "a competitive inhibitor", "a polar solvent",
    ]
)
_ARC_ACTIONS = np.array(
    [
        "places a plant near a sunny window", "drops a ball from a table",
        "mixes salt into warm water", "leaves an ice cube on a plate",
        "rubs a balloon on wool", "puts a magnet near iron filings",
        "observes the Moon for a month", "measures a shadow at noon and at sunset",
        "plants bean seeds in two kinds of soil", "heats a pot of soup on a stove",
        "watches a caterpillar for several weeks", "stretches a rubber band",
    ]
)
_ARC_QUESTIONS = np.array(
    [
        "Which statement best explains what happens?", "What is the most likely result?",
        "Which property is being tested?", "What should the student record next?",
        "Which tool would be most useful for this investigation?",
        "Which conclusion is supported by the observation?",
    ]
)
_ARC_OPTIONS = np.array(
    [
        "gravity pulls it down", "the water evaporates", "it dissolves completely",
        "heat energy is transferred", "the object becomes charged", "the plant bends toward light",
        "the phases of the Moon change", "the shadow gets longer", "the metal is attracted",
        "the insect undergoes metamorphosis", "a thermometer", "a hand lens",
        "a spring scale", "a graduated cylinder", "the soil holds more water",
    ]
)
_CODE_TASKS = np.array(
    [
        ("find the maximum of {a} numbers in a list", "max_of_list"),
        ("count the vowels in a given string", "count_vowels"),
        ("check whether a number is a perfect square", "is_perfect_square"),
        ("return the {a}-th Fibonacci number", "fibonacci"),
        ("remove duplicate elements from a list while keeping order", "dedupe"),
        ("reverse the words in a sentence", "reverse_words"),
        ("compute the sum of the digits of an integer", "digit_sum"),
        ("find the longest common prefix of a list of strings", "common_prefix"),
        ("rotate a list to the right by {a} positions", "rotate_right"),
        ("check whether a string is a palindrome ignoring case", "is_palindrome"),
        ("merge two sorted lists into one sorted list", "merge_sorted"),
        ("find the second smallest number in a list", "second_smallest"),
        ("convert a decimal number to binary", "to_binary"),
        ("count the pairs in a list whose sum equals {a}", "count_pairs"),
        ("compute the greatest common divisor of two numbers", "gcd"),
        ("find the first repeated character in a string", "first_repeated"),
        ("flatten a nested list of depth {a}", "flatten"),
        ("return the n largest items of a list using a heap", "largest_n"),
    ]
)
_WINO_PAIRS = np.array(
    [
        ("could not lift the box for", "was too weak", "was too strong"),
        ("lent an umbrella to", "was going to stay dry", "was going to get wet"),
        ("beat", "trained every day", "rarely practised"),
        ("asked for advice from", "was confused about the tax forms", "was an accountant"),
        ("apologised to", "had broken the vase", "had been hurt by the remark"),
        ("taught guitar to", "had years of experience", "was a beginner"),
        ("paid back the money to", "had borrowed it", "had lent it"),
        ("called a doctor for", "was feeling faint", "knew the clinic well"),
        ("gave a ride home to", "owned a car", "had missed the last bus"),
        ("congratulated", "was proud of the win", "had won the race"),
    ]
)
_ACTIVITIES = np.array(
    [
        "Making a sandwich", "Washing a car", "Playing the violin", "Tying a tie",
        "Painting a fence", "Skiing downhill", "Brushing a dog", "Changing a tyre",
        "Baking bread", "Doing yoga", "Planting flowers", "Ice skating", "Cleaning windows",
        "Rowing a boat", "Juggling balls",
    ]
)
_ACTORS = np.array(
    ["A man", "A woman", "A young girl", "An older man", "A boy", "Two friends", "A teenager"]
)
_DOINGS = np.array(
    [
        "is standing in a kitchen holding a knife", "walks toward the camera smiling",
        "kneels on the ground beside a bucket", "adjusts the equipment carefully",
        "is shown talking to the camera", "stretches both arms above the head",
        "picks up a brush and looks around", "is outside on a sunny lawn",
    ]
)
_ENDINGS = np.array(
    [
        "then spreads butter evenly across the slices.", "then rinses the soap off with a hose.",
        "then bows and leaves the stage.", "then pulls the knot tight and smiles.",
        "then dips the brush and paints the next board.", "then turns sharply and stops.",
        "then gives the dog a treat.", "then tightens the bolts with a wrench.",
        "then takes the loaf out of the oven.", "then holds the pose and breathes slowly.",
        "then pats the soil around the stem.", "then spins on one foot.",
        "then wipes the glass with a cloth.", "then pulls the oars back.",
        "then catches all three balls at once.",
    ]
)
_CHAT_FORMATS = np.array(
    ["blog post", "short poem", "persuasive essay", "travel itinerary", "product pitch",
     "cover letter", "bedtime story", "speech", "recipe introduction", "podcast outline"]
)
_CHAT_TOPICS = np.array(
    [
        "a recent trip to Hawaii", "learning a second language", "the history of jazz",
        "remote work", "climate-friendly gardening", "the first day at a new job",
        "a small bakery opening", "why sleep matters", "urban cycling", "saving for retirement",
        "volcanoes", "the ethics of artificial intelligence", "board games with family",
        "minimalist living", "a favourite childhood memory",
    ]
)
_CHAT_STYLES = np.array(
    ["a cheerful tone", "exactly three paragraphs", "a surprising twist", "vivid imagery",
     "a call to action", "humour suitable for children", "bullet points", "a formal voice"]
)
_AUDIENCES = np.array(
    ["a five-year-old", "a busy executive", "a high school student", "my grandmother",
     "a software engineer", "a first-time voter"]
)
_ORGS = np.array(
    [
        "Northwind Labs", "the Aurora Institute", "Bluepeak Robotics", "the Harbor Museum",
        "Cedar Valley Hospital", "Lumen Press", "Orchid Energy", "the Granite Theatre",
        "Silverline Rail", "the Meadow Research Centre", "Quartz Analytics", "Riverbend Mills",
    ]
)
_CITIES = np.array(
    ["Lisbon", "Osaka", "Toronto", "Nairobi", "Krakow", "Valparaiso", "Adelaide", "Bergen",
     "Tucson", "Hanoi", "Leipzig", "Cork"]
)
_KNOWN_FOR = np.array(
    ["solar-powered ferries", "rare manuscript restoration", "low-cost prosthetics",
     "open-air concerts", "coastal erosion studies", "regional folk music archives",
     "handmade ceramic tiles", "night-time rail freight", "children's science fairs"]
)
_RAG_QUESTIONS = np.array(
    ["Who founded {org}?", "In which year was {org} founded?", "Where is {org} based?",
     "What is {org} best known for?"]
)


# --------------------------------------------------------------------------- string helpers
def _cat(*parts: Any) -> np.ndarray:
    """Element-wise concatenation of string arrays and literals (vectorised)."""
    out = np.asarray(parts[0]).astype(np.str_)
    for part in parts[1:]:
        out = np.strings.add(out, np.asarray(part).astype(np.str_))
    return out


def _pick(gen: np.random.Generator, vocab: np.ndarray, k: int) -> np.ndarray:
    return vocab[gen.integers(len(vocab), size=k)]


def _num(gen: np.random.Generator, lo: int, hi: int, k: int) -> np.ndarray:
    return gen.integers(lo, hi, size=k).astype(np.str_)


def _pick_distinct(gen: np.random.Generator, vocab: np.ndarray, k: int, r: int) -> np.ndarray:
    """``k`` rows of ``r`` distinct entries of ``vocab`` (k x r)."""
    keys = gen.random((k, len(vocab)))
    return vocab[np.argsort(keys, axis=1)[:, :r]]


def _letters(options: np.ndarray, labels: tuple[str, ...], sep: str) -> np.ndarray:
    out = np.full(options.shape[0], "", dtype=np.str_)
    for c, label in enumerate(labels):
        out = _cat(out, label, options[:, c], sep)
    return out


# --------------------------------------------------------------------------- task prompts
def _mmlu(gen: np.random.Generator, k: int) -> np.ndarray:
    opts = _letters(_pick_distinct(gen, _MC_OPTIONS, k, 4), ("A) ", "B) ", "C) ", "D) "), "\n")
    stems = np.array(
        ["Which of the following best explains ", "Which factor is most responsible for ",
         "Which statement about the mechanism is correct regarding ",
         "Which of the following is a direct consequence of "]
    )
    return _cat(
        "The following is a multiple choice question about ", _pick(gen, _SUBJECTS, k), ".\n\n",
        _pick(gen, stems, k), _pick(gen, _PHENOMENA, k), " in case ", _num(gen, 1, 999, k),
        "?\n", opts, "Answer:",
    )


def _arc(gen: np.random.Generator, k: int) -> np.ndarray:
    opts = _letters(_pick_distinct(gen, _ARC_OPTIONS, k, 4), ("(A) ", "(B) ", "(C) ", "(D) "), " ")
    return _cat(
        "Question: ", _pick(gen, _NAMES, k), " ", _pick(gen, _ARC_ACTIONS, k), " for ",
        _num(gen, 2, 60, k), " minutes. ", _pick(gen, _ARC_QUESTIONS, k), "\nChoices: ", opts,
        "\nAnswer with the letter of the best choice.",
    )


def _gsm8k(gen: np.random.Generator, k: int) -> np.ndarray:
    name, other = _pick(gen, _NAMES, k), _pick(gen, _NAMES, k)
    item, box = _pick(gen, _ITEMS, k), _pick(gen, _CONTAINERS, k)
    a, b, c, d = (_num(gen, lo, hi, k) for lo, hi in ((5, 90), (2, 12), (3, 25), (1, 30)))
    which = gen.integers(3, size=k)
    t0 = _cat(name, " has ", a, " ", item, ". They buy ", b, " ", box, " with ", c, " ", item,
              " in each and give ", d, " ", item, " to ", other, ". How many ", item, " does ",
              name, " have now?")
    t1 = _cat("A shop sells ", item, " in ", box, " of ", c, ". ", name, " needs ", a,
              " more ", item, " than ", other, ", who needs ", b, " ", box, ". How many ", box,
              " must ", name, " buy, and how many ", item, " are left over?")
    t2 = _cat(name, " earns $", c, " per hour and works ", b, " hours a day for ", d,
              " days, then spends $", a, " on ", item, ". How much money does ", name,
              " have left?")
    body = np.where(which == 0, t0, np.where(which == 1, t1, t2))
    return _cat("Solve the math word problem. ", body, " Let's think step by step.")


def _mbpp(gen: np.random.Generator, k: int) -> np.ndarray:
    rows = gen.integers(len(_CODE_TASKS), size=k)
    goal = np.strings.replace(_CODE_TASKS[rows, 0], "{a}", _num(gen, 2, 9, k))
    fn = _CODE_TASKS[rows, 1]
    tests = np.full(k, "", dtype=np.str_)
    for _ in range(3):
        args = _cat("[", _num(gen, 0, 50, k), ", ", _num(gen, 0, 50, k), ", ", _num(gen, 0, 50, k),
                    "]")
        tests = _cat(tests, "assert ", fn, "(", args, ") == ", _num(gen, 0, 200, k), "\n")
    return _cat("You are an expert Python programmer, and here is your task: Write a python "
                "function to ", goal, ". Your code should pass these tests:\n\n", tests,
                "[BEGIN]\ndef ", fn, "(")


def _winogrande(gen: np.random.Generator, k: int) -> np.ndarray:
    pair = _pick_distinct(gen, _NAMES, k, 2)
    rows = gen.integers(len(_WINO_PAIRS), size=k)
    reason = np.where(gen.random(k) < 0.5, _WINO_PAIRS[rows, 1], _WINO_PAIRS[rows, 2])
    return _cat(pair[:, 0], " ", _WINO_PAIRS[rows, 0], " ", pair[:, 1], " because _ ", reason,
                ".\nOption 1: ", pair[:, 0], "\nOption 2: ", pair[:, 1],
                "\nFill the blank: answer 1 or 2.")


def _hellaswag(gen: np.random.Generator, k: int) -> np.ndarray:
    opts = _letters(_pick_distinct(gen, _ENDINGS, k, 4), ("1. ", "2. ", "3. ", "4. "), "\n")
    return _cat(_pick(gen, _ACTIVITIES, k), ": ", _pick(gen, _ACTORS, k), " ",
                _pick(gen, _DOINGS, k), " for about ", _num(gen, 2, 40, k), " seconds. Then ...\n"
                "Pick the most plausible continuation:\n", opts, "Ending:")


def _mt_bench(gen: np.random.Generator, k: int) -> np.ndarray:
    which = gen.random(k) < 0.5
    a = _cat("Compose a ", _pick(gen, _CHAT_FORMATS, k), " about ", _pick(gen, _CHAT_TOPICS, k),
             " with ", _pick(gen, _CHAT_STYLES, k), ", in under ", _num(gen, 100, 600, k),
             " words.")
    b = _cat("Can you explain ", _pick(gen, _CHAT_TOPICS, k), " to ", _pick(gen, _AUDIENCES, k),
             "? Please use ", _pick(gen, _CHAT_STYLES, k), " and keep it friendly.")
    return np.where(which, a, b)


def _rag(gen: np.random.Generator, k: int) -> np.ndarray:
    org, city = _pick(gen, _ORGS, k), _pick(gen, _CITIES, k)
    q = np.strings.replace(_pick(gen, _RAG_QUESTIONS, k), "{org}", org)
    return _cat("Read the passage and answer the question.\nPassage: ", org, " was founded in ",
                _num(gen, 1850, 2020, k), " in ", city, " by ", _pick(gen, _NAMES, k),
                " and now employs ", _num(gen, 12, 9000, k), " people. It is best known for ",
                _pick(gen, _KNOWN_FOR, k), ", and its annual report lists ", _num(gen, 2, 80, k),
                " partner organisations.\nQuestion: ", q, "\nAnswer:")


#: Task name -> (prompt builder, share of queries (RouterBench-like), mean difficulty (logit),
#: context factor (unseen prompt context such as few-shot examples), mean output tokens).
TASKS: dict[str, tuple[Any, float, float, float, float]] = {
    "mmlu": (_mmlu, 14042, 0.0, 3.0, 4.0),
    "hellaswag": (_hellaswag, 10042, -0.3, 3.0, 4.0),
    "gsm8k": (_gsm8k, 7450, 0.6, 2.5, 150.0),
    "rag": (_rag, 1999, -0.2, 6.0, 40.0),
    "arc-challenge": (_arc, 1470, 0.0, 3.0, 4.0),
    "winogrande": (_winogrande, 1267, 0.2, 3.0, 3.0),
    "mbpp": (_mbpp, 427, 0.3, 2.0, 180.0),
    "mt-bench": (_mt_bench, 80, -0.5, 1.0, 350.0),
}
_DIFFICULTY_SD = 1.6
_NOISE_SD = 1.4
_UNSOLVABLE_SHARE = 0.06


#: Largest --n: 50 million queries (the million-query benchmark generates 2 million).
MAX_N = 50_000_000


class SyntheticParamError(ParamError, DatasetError):
    """A generator option outside its range; ``param`` names it."""


# --------------------------------------------------------------------------- profiles
def _profiles(k: int, gen: np.random.Generator, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The first ``k`` LLM profiles; past the configured list, extra profiles drawn from the
    configured ranges with ``gen`` (deterministic for a seed)."""
    base = [dict(p) for p in cfg["models"]]
    if not 1 <= k <= MAX_MODELS:
        raise SyntheticParamError("models", f"must be between 1 and {MAX_MODELS}, got {k}")
    extra = cfg["extra_models"]
    for idx in range(len(base), k):
        price_in = float(10 ** gen.uniform(*extra["price_in_log10"]))
        base.append(
            {
                "name": f"synthetic-llm-{idx + 1:02d}",
                "target_perf": float(gen.uniform(*extra["target_perf"])),
                "price_in": price_in,
                "price_out": price_in * float(gen.uniform(*extra["out_over_in"])),
                "verbosity": float(gen.uniform(0.8, 1.4)),
                "task_skill": {t: float(gen.normal(0, 0.8)) for t in TASKS},
            }
        )
    return base[:k]


def _calibrate(target: float, logits: np.ndarray) -> float:
    """The base skill b (logit units) with mean(sigmoid(b + logits)) == target."""
    return float(brentq(lambda b: float(expit(b + logits).mean()) - target, -30.0, 30.0))


# --------------------------------------------------------------------------- generator
def generate(n: int = DEFAULT_N, models: int = DEFAULT_MODELS, seed: int = 0) -> RouteTable:
    """A synthetic RouterBench-like table of ``n`` queries and ``models`` LLMs, from ``seed``.

    Deterministic: the same arguments give the same table. Costs are in USD per query.
    """
    for param, value, low, high in (("n", n, 1, MAX_N), ("models", models, 1, MAX_MODELS),
                                    ("seed", seed, 0, 2**63 - 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not low <= value <= high:
            raise SyntheticParamError(param, f"must be an integer in {low:,}..{high:,}, got "
                                      f"{value!r}")
    cfg = source_config("synthetic")
    gen = seeded_rng(seed, "synthetic")
    profiles = _profiles(int(models), gen, cfg)
    names = list(TASKS)
    shares = np.array([TASKS[t][1] for t in names], dtype=np.float64)
    task_idx = np.sort(gen.choice(len(names), size=n, p=shares / shares.sum()))
    task_idx = task_idx[gen.permutation(n)]

    prompts = np.empty(n, dtype=object)
    for t, task in enumerate(names):
        rows = np.flatnonzero(task_idx == t)
        if rows.size:
            prompts[rows] = TASKS[task][0](gen, rows.size).astype(object)

    # Difficulty per query (logit units); a few queries are out of every LLM's reach.
    mu = np.array([TASKS[t][2] for t in names])[task_idx]
    difficulty = mu + gen.normal(0.0, _DIFFICULTY_SD, n)
    difficulty[gen.random(n) < _UNSOLVABLE_SHARE] += 12.0

    m = len(profiles)
    offsets = np.array(
        [
            [float(p.get("task_skill", {}).get(t, gen.normal(0.0, 0.3))) for t in names]
            for p in profiles
        ]
    )  # M x T
    logits = offsets[:, task_idx].T - difficulty[:, None] + gen.normal(0.0, _NOISE_SD, (n, m))
    base = np.array(
        [_calibrate(p["target_perf"], logits[:, i]) for i, p in enumerate(profiles)]
    )
    perf = (gen.random((n, m)) < expit(logits + base)).astype(np.float64)

    # Tokens: input from the prompt text, output by task and LLM verbosity.
    chars_per_token = float(cfg["chars_per_token"])
    context = np.array([TASKS[t][3] for t in names])[task_idx]
    lengths = np.strings.str_len(prompts.astype(np.str_)).astype(np.float64)
    tokens_in = np.ceil(lengths / chars_per_token * context)
    out_mean = np.array([TASKS[t][4] for t in names])[task_idx]
    verbosity = np.array([float(p.get("verbosity", 1.0)) for p in profiles])
    query_len = gen.lognormal(0.0, 0.35, n)
    tokens_out = np.ceil(
        out_mean[:, None] * verbosity[None, :] * query_len[:, None]
        * gen.lognormal(0.0, 0.25, (n, m))
    )
    price_in = np.array([float(p["price_in"]) for p in profiles]) / 1e6
    price_out = np.array([float(p["price_out"]) for p in profiles]) / 1e6
    cost = tokens_in[:, None] * price_in[None, :] + tokens_out * price_out[None, :]

    model_names = tuple(str(p["name"]) for p in profiles)
    ids = np.char.add("synthetic.", np.arange(n).astype(np.str_)).astype(object)
    tasks = np.array(names, dtype=object)[task_idx]
    check_matrices(perf, cost, model_names, file="<synthetic>", ids=ids)
    card = {
        "source": "synthetic",
        "licence": cfg["licence"],
        "citation": cfg["citation"],
        "prices_per_1m_tokens": {
            p["name"]: {"input": float(p["price_in"]), "output": float(p["price_out"])}
            for p in profiles
        },
        "notes": (
            f"generated locally: n={n}, models={m}, seed={seed}; cost = input tokens x input "
            "price + output tokens x output price (USD); input tokens = prompt characters / "
            f"{chars_per_token:g} x the task's context factor"
        ),
    }
    return RouteTable(
        ids=ids,
        prompts=prompts,
        tasks=tasks,
        models=model_names,
        perf=perf,
        cost=cost,
        name="synthetic",
        card=card,
    )


def _build(
    *,
    from_path: Any = None,
    missing: MissingPolicy = "error",
    report: dict[str, int] | None = None,
    n: int = DEFAULT_N,
    models: int = DEFAULT_MODELS,
    seed: int = 0,
) -> RouteTable:
    if from_path is not None:
        raise DatasetError("the synthetic dataset is generated, not imported: drop --from")
    if report is not None:
        report.update(dropped=0, merged=0)
    return generate(n=n, models=models, seed=seed)


register(
    Source(
        name="synthetic",
        description="RouterBench-shaped data generated locally from a seed (no network)",
        build=_build,
        options=("n", "models", "seed"),
    )
)
