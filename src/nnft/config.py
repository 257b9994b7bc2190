"""Checks of a config before any job runs: every violation of its JSON schema (workflow/schemas/config.schema.yaml)
as one line naming the key, the value and what is allowed (`schema_problems`), and the cross-key checks the schema
cannot express (`check_experiment`, `check_hyperparameters`, `check_finite_width`, each reporting every problem of
its block at once). Pure functions on plain dicts."""

import jsonschema
from jsonschema.exceptions import best_match

_BOUNDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _line(error: jsonschema.ValidationError) -> str:
    """One line for one schema violation: the dotted key, the value, what is allowed."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        # the branch of the value's own type says what is wrong (e.g. the negative entry of a list of variances)
        same_type = [c for c in error.context if c.validator != "type"]
        if same_type:
            return _line(best_match(same_type))
        if "description" in error.schema:
            key = ".".join(str(p) for p in error.absolute_path)
            return f"{key} = {_short(error.instance)}: must be {error.schema['description']}"
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    v, allowed, value = error.validator, error.validator_value, error.instance
    if v == "required":
        missing = [k for k in allowed if k not in value]
        return f"{key}: missing key {', '.join(map(repr, missing))}"
    if v == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(known))
        return f"{key}: unknown key {', '.join(map(repr, extra))} (allowed: {', '.join(known)})"
    if "propertyNames" in error.schema_path:  # the value is a key of the mapping at `key`
        rule = f"one of {', '.join(map(str, allowed))}" if v == "enum" else f"matching {allowed}"
        return f"{key}: key {_short(value)} is not allowed (allowed: keys {rule})"
    if v in _BOUNDS:
        return f"{key} = {_short(value)}: must be {_BOUNDS[v]} {allowed}"
    if v == "enum":
        return f"{key} = {_short(value)}: must be one of {', '.join(map(str, allowed))}"
    if v == "type":
        return f"{key} = {_short(value)}: must be of type {allowed}"
    if v == "pattern":
        return f"{key} = {_short(value)}: must be {error.schema.get('description', f'matching {allowed}')}"
    return f"{key} = {_short(value)}: {error.message}"


def schema_problems(config: dict, schema: dict) -> list[str]:
    """Every violation of the JSON schema by the config, one line each (key, value, what is allowed), in the order
    of the keys; empty if the config is valid."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    return list(dict.fromkeys(_line(e) for e in errors))


def _raise_all(problems: list[str]) -> None:
    if problems:
        raise ValueError("\n".join(problems))


def _target_problems(key, block) -> list[str]:
    target, problems = block["target"], []
    if len(target["degrees"]) != len(target["power"]):
        problems.append(
            f"{key}.target: degrees and power must have equal length "
            f"(got {len(target['degrees'])} and {len(target['power'])})"
        )
    if max(target["degrees"]) > block["theory"]["max_degree"]:
        problems.append(f"{key}.target.degrees: degree {max(target['degrees'])} exceeds {key}.theory.max_degree")
    return problems


def check_experiment(name, exp):
    """Cross-key checks that the JSON schema cannot express: a ValueError listing every problem, one line each naming
    the key."""
    key = f"experiments.{name}"
    problems = _target_problems(key, exp)
    for name_ in ("sigma_w2", "sigma_b2"):
        v = exp["model"][name_]
        if isinstance(v, list) and len(v) != exp["model"]["depth"]:
            problems.append(
                f"{key}.model.{name_}: a list needs one value per weight layer "
                f"(depth {exp['model']['depth']}), got {len(v)}"
            )
    if exp.get("ridge", 0) == 0 and exp.get("jitter", 0) <= 0:
        problems.append(f"{key}.jitter: noiseless regression (ridge 0) needs a jitter > 0 on the kernel's diagonal")
    cc = exp["theory"].get("cutoff_convergence")
    if cc:
        extra = sorted(set(cc["n_train"]) - set(exp["n_train"]))
        if extra:
            problems.append(f"{key}.theory.cutoff_convergence.n_train: sizes {extra} are not in {key}.n_train")
        if cc["draws"] > exp["n_draws"]:
            problems.append(f"{key}.theory.cutoff_convergence.draws ({cc['draws']}) exceeds {key}.n_draws")
    if exp.get("reproduces") and not cc:
        problems.append(f"{key}.theory.cutoff_convergence is needed by figure {name}_fig1 (the experiment reproduces)")
    if "train" in exp:
        problems += _train_problems(key, exp)
    _raise_all(problems)


def _train_problems(key, exp) -> list[str]:
    problems = []
    for what, bad in (("kernel", exp.get("kernel", "nngp") != "nngp"), ("ridge", exp["ridge"] == 0)):
        if bad:
            problems.append(
                f"{key}.{what}: trained networks sample the NNGP posterior at ridge (the temperature) > 0; "
                f"drop {key}.train or use kernel nngp and ridge > 0"
            )
    if "width" not in exp["model"]:
        problems.append(f"{key}.model.width: the trained networks need a width")
    extra = sorted(set(exp["train"]["n_train"]) - set(exp["n_train"]))
    if extra:
        problems.append(f"{key}.train.n_train: sizes {extra} are not in {key}.n_train")
    wc = exp["train"].get("width_convergence")
    if wc and wc["n_train"] not in exp["n_train"]:
        problems.append(f"{key}.train.width_convergence.n_train ({wc['n_train']}) is not in {key}.n_train")
    if exp["train"]["draws"] > exp["n_draws"]:
        problems.append(f"{key}.train.draws ({exp['train']['draws']}) exceeds {key}.n_draws ({exp['n_draws']})")
    if wc and wc.get("draws", 0) > exp["n_draws"]:
        problems.append(f"{key}.train.width_convergence.draws ({wc['draws']}) exceeds {key}.n_draws ({exp['n_draws']})")
    return problems


def check_hyperparameters(name, block):
    """Cross-key checks of a hyper-parameter scan: a ValueError listing every problem, naming the keys."""
    key = f"hyperparameters.{name}"
    problems = _target_problems(key, block)
    v = block["validate"]
    if v["draws"] > block["n_draws"]:
        problems.append(f"{key}.validate.draws ({v['draws']}) exceeds {key}.n_draws ({block['n_draws']})")
    size = 1
    for values in block["grid"].values():
        size *= len(values)
    if v["points"] > size:
        problems.append(f"{key}.validate.points ({v['points']}) exceeds the grid's {size} points")
    _raise_all(problems)


def check_finite_width(name, block):
    """Cross-key checks of a finite-width block after schema validation (which fills the defaults): a ValueError
    listing every problem, naming the keys."""
    key = f"finite_width.{name}"
    problems = []
    for section, axis in (("phase", "sigma_w2"), ("phase", "sigma_b2"), ("depth_scales", "sigma_w2"),
                          ("trainability", "sigma_w2")):  # fmt: skip
        low, high = block[section][f"{axis}_range"]
        if not low < high:
            problems.append(f"{key}.{section}.{axis}_range: needs [low, high] with low < high (got [{low}, {high}])")
    if not any(m["activation"] == "tanh" and m["sigma_w2"] == 1.0 for m in block["kurtosis_models"]):
        problems.append(
            f"{key}.kurtosis_models: the kernel-shift figure (F3) draws the critical tanh model "
            "{activation: tanh, sigma_w2: 1.0}; keep it in the list"
        )
    _raise_all(problems)


def first_order_supported(activation: str) -> bool:
    """Whether the first-order 1/width theory (finite_width_bayes) has closed-form Gaussian expectations for this
    activation name: the ReLU family, identity, erf (those whose activations.Activation has closed_form; kept here
    by name so that the workflow can decide without importing JAX)."""
    return activation in ("relu", "identity", "erf") or activation.startswith("leaky_relu")
