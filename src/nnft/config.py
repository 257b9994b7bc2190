"""Cross-key checks of an experiment's config that its JSON schema (workflow/schemas/config.schema.yaml) cannot
express. Pure functions on plain dicts: the workflow calls them after schema validation, before any job runs."""


def _check_target(key, block):
    target = block["target"]
    if len(target["degrees"]) != len(target["weights"]):
        raise ValueError(
            f"{key}.target: degrees and weights must have equal length "
            f"(got {len(target['degrees'])} and {len(target['weights'])})"
        )
    if max(target["degrees"]) > block["theory"]["max_degree"]:
        raise ValueError(f"{key}.target.degrees: degree {max(target['degrees'])} exceeds {key}.theory.max_degree")


def check_experiment(name, exp):
    """Cross-key checks that the JSON schema cannot express; errors name the key."""
    key = f"experiments.{name}"
    _check_target(key, exp)
    for name_ in ("sigma_w2", "sigma_b2"):
        v = exp["model"][name_]
        if isinstance(v, list) and len(v) != exp["model"]["depth"]:
            raise ValueError(
                f"{key}.model.{name_}: a list needs one value per weight layer "
                f"(depth {exp['model']['depth']}), got {len(v)}"
            )
    if exp.get("ridge", 0) == 0 and exp.get("jitter", 0) <= 0:
        raise ValueError(f"{key}.jitter: noiseless regression (ridge 0) needs a jitter > 0 on the kernel's diagonal")
    cc = exp["theory"].get("cutoff_convergence")
    if cc:
        extra = sorted(set(cc["n_train"]) - set(exp["n_train"]))
        if extra:
            raise ValueError(f"{key}.theory.cutoff_convergence.n_train: sizes {extra} are not in {key}.n_train")
        if cc["draws"] > exp["n_draws"]:
            raise ValueError(f"{key}.theory.cutoff_convergence.draws ({cc['draws']}) exceeds {key}.n_draws")
    if exp.get("reproduces") and not cc:
        raise ValueError(f"{key}.theory.cutoff_convergence is needed by figure {name}_fig1 (the experiment reproduces)")
    if "train" not in exp:
        return
    for what, bad in (("kernel", exp.get("kernel", "nngp") != "nngp"), ("ridge", exp["ridge"] == 0)):
        if bad:
            raise ValueError(
                f"{key}.{what}: trained networks sample the NNGP posterior at temperature ridge > 0; "
                f"drop {key}.train or use kernel nngp and ridge > 0"
            )
    if "width" not in exp["model"]:
        raise ValueError(f"{key}.model.width: the trained networks need a width")
    extra = sorted(set(exp["train"]["n_train"]) - set(exp["n_train"]))
    if extra:
        raise ValueError(f"{key}.train.n_train: sizes {extra} are not in {key}.n_train")
    wc = exp["train"].get("width_convergence")
    if wc and wc["n_train"] not in exp["n_train"]:
        raise ValueError(f"{key}.train.width_convergence.n_train ({wc['n_train']}) is not in {key}.n_train")
    if exp["train"]["draws"] > exp["n_draws"]:
        raise ValueError(f"{key}.train.draws ({exp['train']['draws']}) exceeds {key}.n_draws ({exp['n_draws']})")


def check_hyperparameters(name, block):
    """Cross-key checks of a hyper-parameter scan; errors name the key."""
    key = f"hyperparameters.{name}"
    _check_target(key, block)
    v = block["validate"]
    if v["draws"] > block["n_draws"]:
        raise ValueError(f"{key}.validate.draws ({v['draws']}) exceeds {key}.n_draws ({block['n_draws']})")
    size = 1
    for values in block["grid"].values():
        size *= len(values)
    if v["points"] > size:
        raise ValueError(f"{key}.validate.points ({v['points']}) exceeds the grid's {size} points")


def check_finite_width(name, block):
    """Cross-key checks of a finite-width block after schema validation (which fills the defaults); errors name the
    key."""
    key = f"finite_width.{name}"
    for section, axis in (("phase", "sigma_w2"), ("phase", "sigma_b2"), ("depth_scales", "sigma_w2"),
                          ("trainability", "sigma_w2")):  # fmt: skip
        low, high = block[section][f"{axis}_range"]
        if not low < high:
            raise ValueError(f"{key}.{section}.{axis}_range: needs [low, high] with low < high (got [{low}, {high}])")
    if not any(m["activation"] == "tanh" and m["sigma_w2"] == 1.0 for m in block["kurtosis_models"]):
        raise ValueError(
            f"{key}.kurtosis_models: the kernel-shift figure (F3) draws the critical tanh model "
            "{activation: tanh, sigma_w2: 1.0}; keep it in the list"
        )


def first_order_supported(activation: str) -> bool:
    """Whether the first-order 1/width theory (finite_width_bayes) has closed-form Gaussian expectations for this
    activation name: the ReLU family, identity, erf (those whose activations.Activation has closed_form; kept here
    by name so that the workflow can decide without importing JAX)."""
    return activation in ("relu", "identity", "erf") or activation.startswith("leaky_relu")
