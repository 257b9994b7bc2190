"""The Snakemake workflow end to end on a tiny config: every store and figure, partial reruns, config errors,
lint and formatting."""

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from nnft import store
from tests.mounts import tmpfs

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = yaml.safe_load((REPO / "tests/config/tiny.yaml").read_text())


def env_with_bin(**extra) -> dict:
    """The environment with this interpreter's bin first on PATH (snakemake's jobs and the SLURM jobs need it)."""
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", **extra}


def snakemake(cwd, *args, check=True, env=None):
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--cores", "2", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env=env_with_bin(**(env or {})),
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


# F1-F6 of the default target and F7-F8 of `paper` (workflow/rules/common.smk)
FINITE_WIDTH_FIGURES = ("kernel_flow", "kurtosis", "kernel_shift", "correlation", "phase_diagram", "depth_scales")
PAPER_FINITE_WIDTH_FIGURES = ("trainability", "ntk")


def copy_workflow(dest: Path, config: dict) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "workflow", "src", "envs", "profiles"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    (dest / "config").mkdir()
    (dest / "config/config.yaml").write_text(yaml.safe_dump(config))
    return dest


def planned_outputs(cwd, *targets) -> set[str]:
    """Output paths of the jobs a dry run (of the default target, or of `targets`) would execute."""
    out = snakemake(cwd, "-n", *targets).stdout
    paths = set()
    for line in out.splitlines():
        m = re.match(r"\s+output:\s+(.*)", line)
        if m:
            paths.update(p.strip() for p in m.group(1).split(","))
    return paths


def planned_with_config(wf: Path, text: str, *targets) -> set[str]:
    """planned_outputs with config/config.yaml replaced by `text` (restored afterwards)."""
    cfg_path = wf / "config/config.yaml"
    original = cfg_path.read_text()
    cfg_path.write_text(text)
    try:
        return planned_outputs(wf, *targets)
    finally:
        cfg_path.write_text(original)


def figure_files(e, names=("networks", "learning_curves", "mode_errors")) -> set[str]:
    return {f"results/figures/{e}_{f}.{x}" for f in names for x in ("png", "pdf")}


def comparison_files(e) -> set[str]:
    return {f"results/{e}/comparison.zarr", f"results/{e}/comparison.csv"}


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory):
    wf = copy_workflow(tmp_path_factory.mktemp("wf"), TINY)
    snakemake(wf, "all", "paper")  # one DAG: both cores busy to the end
    return wf


def only(*experiments) -> dict:
    """The tiny config restricted to some experiments (no spectra)."""
    return {"experiments": {e: TINY["experiments"][e] for e in experiments}}


def stores(wf: Path) -> dict[str, Path]:
    return {str(p.relative_to(wf)): p for p in sorted((wf / "results").rglob("*.zarr"))}


def assert_same_stores(wf: Path, reference: Path) -> None:
    """Every store of wf holds bitwise the numbers of the same store in reference (attrs such as wall time aside)."""
    ours = stores(wf)
    assert ours, "no stores"
    for rel, path in ours.items():
        xr.testing.assert_equal(store.read(path), store.read(reference / rel))


def check_outputs(wf: Path, config: dict) -> None:
    for exp, spec in config["experiments"].items():
        for name in ("data", "spectrum", "theory", "gp"):
            ds = store.read(wf / f"results/{exp}/{name}.zarr")
            assert "config" in ds.attrs and "versions" in ds.attrs and "git_revision" in ds.attrs
        if spec.get("reproduces"):  # a paper experiment: Fig. 1 and the claims, none of the default figures
            gp = store.read(wf / f"results/{exp}/gp.zarr")
            assert gp.attrs["kernel"] == spec["kernel"] and gp.attrs["jitter"] == spec["jitter"]
            for ext in ("png", "pdf"):
                assert (wf / f"results/figures/{exp}_fig1.{ext}").stat().st_size > 10_000
                assert not (wf / f"results/figures/{exp}_learning_curves.{ext}").exists()
            claims = pd.read_csv(wf / f"results/{exp}/claims.csv")
            assert {"theory", "gp_mse", "gp_mse_mean_predictor"} <= set(claims.observable)
            assert claims.measured.notna().all() and claims.holds.dtype == bool
            convergence = store.read(wf / f"results/{exp}/cutoff_convergence.zarr")
            assert convergence.distance2.shape == (2, 1, 4) and np.all(convergence.distance2 > 0)
            continue
        for n in spec["train"]["n_train"]:
            ds = store.read(wf / f"results/{exp}/train/n{n}_w{spec['model']['width']}.zarr")
            assert set(ds.f_mean.dims) == {"width", "n_train", "draw", "member", "test_sample"}
            assert ds.sizes["width"] == 1 and ds.sizes["n_train"] == 1
            assert np.all(ds.ess.values > 0)
            assert ds.sizes["member"] == spec["train"]["members"]
        for fig in ("networks", "learning_curves", "mode_errors", "diagnostics"):
            for ext in ("png", "pdf"):
                assert (wf / f"results/figures/{exp}_{fig}.{ext}").stat().st_size > 10_000
        comparison = store.read(wf / f"results/{exp}/comparison.zarr")
        assert "rel_sc" in comparison and (wf / f"results/{exp}/comparison.csv").read_text().startswith("n_train,")
        if "width_convergence" in spec["train"]:
            assert (wf / f"results/figures/{exp}_width_convergence.png").stat().st_size > 10_000
            assert (wf / f"results/figures/{exp}_finite_width_bayes.png").stat().st_size > 10_000
            fwb = store.read(wf / f"results/{exp}/finite_width_bayes/theory.zarr")
            wc = spec["train"]["width_convergence"]
            study = wc.get("draws", spec["train"]["draws"])
            assert fwb.sizes["draw"] == study and np.all(np.isfinite(fwb.mse_coefficient))
            for width in wc["widths"]:  # the job the learning curve shares trains its datasets too
                shared = wc["n_train"] in spec["train"]["n_train"] and width == spec["model"]["width"]
                ds = store.read(wf / f"results/{exp}/train/n{wc['n_train']}_w{width}.zarr")
                assert ds.sizes["draw"] == (max(study, spec["train"]["draws"]) if shared else study)
            assert fwb.sizes["direction"] == len(spec["target"]["degrees"]) + 1  # teacher directions + orthogonal
        else:
            assert not (wf / f"results/figures/{exp}_width_convergence.png").exists()
            assert not (wf / f"results/figures/{exp}_finite_width_bayes.png").exists()
    for name in config.get("finite_width", {}):
        fw = store.read(wf / f"results/finite_width/{name}/ensembles.zarr")
        assert fw.sizes["width"] == len(config["finite_width"][name]["widths"])
        assert np.isfinite(fw.rho_mc).all() and np.isfinite(fw.kurtosis_mc).all()
        scales = store.read(wf / f"results/finite_width/{name}/depth_scales.zarr")
        assert scales.sizes["point"] == config["finite_width"][name]["depth_scales"]["points"]
        assert np.isfinite(scales.xi_q).all() and np.isfinite(scales.xi_c_theory).all()
        for fig in FINITE_WIDTH_FIGURES + PAPER_FINITE_WIDTH_FIGURES:  # the fixture builds both targets
            for ext in ("png", "pdf"):
                assert (wf / f"results/figures/finite_width_{name}_{fig}.{ext}").stat().st_size > 10_000
    for name in config.get("hyperparameters", {}):
        block = config["hyperparameters"][name]
        scan = store.read(wf / f"results/hyperparameters/{name}/scan.zarr")
        assert scan.attrs["grid_points"] == np.prod([len(v) for v in block["grid"].values()])
        assert np.isfinite(scan.predicted_mse).all() and np.isfinite(scan.gp_mse).all()
        validation = store.read(wf / f"results/hyperparameters/{name}/validation.zarr")
        assert validation.sizes["point"] == block["validate"]["points"]
        assert np.isfinite(validation.point_network_mse).all()
        summary = (wf / f"results/hyperparameters/{name}/summary.csv").read_text()
        assert "spearman_networks" in summary and "training_seconds_replaced" in summary
        for ext in ("png", "pdf"):
            assert (wf / f"results/figures/hyperparameters_{name}.{ext}").stat().st_size > 10_000
    for name in config.get("survey", {}):
        block = config["survey"][name]
        dd = store.read(wf / f"results/survey/{name}/double_descent.zarr")
        assert dd.sizes["features"] == len(block["double_descent"]["features"]) and np.isfinite(dd.rf_mse).all()
        lazy = store.read(wf / f"results/survey/{name}/lazy.zarr")
        assert (lazy.train_mse <= block["lazy"]["tol"]).all()
        depth = store.read(wf / f"results/survey/{name}/depth.zarr")
        np.testing.assert_allclose(depth.deep_error, depth.deep_error_exact, rtol=1e-9)
        for ext in ("png", "pdf"):
            assert (wf / f"results/figures/survey_{name}.{ext}").stat().st_size > 10_000
    for name in config.get("spectra", {}):
        table = store.read(wf / f"results/spectra/{name}.zarr")
        assert table.share_nngp.dims == ("model", "depth", "degree") and table.sizes["model"] == 2
        assert (wf / f"results/figures/spectra_{name}.png").stat().st_size > 10_000


@pytest.mark.slow
def test_end_to_end_produces_every_store_and_figure(workflow_run):
    wf = workflow_run
    check_outputs(wf, TINY)
    gp = store.read(wf / "results/a/gp.zarr")
    assert gp.mse_population.dims == ("draw", "n_train") and list(gp.n_train.values) == [4, 8]
    assert planned_outputs(wf) == set()  # up to date: nothing reruns


def test_paper_target_builds_exactly_the_paper_outputs(tmp_path):
    # `snakemake paper`: the paper experiment's stages, Fig. 1 and claims, and the finite-width and survey figures
    # (F1-F9); no training job, nothing of the default experiments, spectra or hyper-parameter scans.
    planned = planned_outputs(copy_workflow(tmp_path, TINY), "paper")
    paper_experiment = {f"results/p/{s}.zarr" for s in ("data", "spectrum", "theory", "gp", "comparison")}
    paper_experiment |= {"results/p/cutoff_convergence.zarr", "results/p/comparison.csv", "results/p/claims.csv"}
    paper_experiment |= {f"results/figures/p_fig1.{x}" for x in ("png", "pdf")}
    assert paper_experiment <= planned
    assert {f"results/figures/survey_v.{x}" for x in ("png", "pdf")} <= planned
    others = planned - paper_experiment
    assert others and all(
        p.startswith(("results/finite_width/f/", "results/figures/finite_width_f_", "results/survey/v/"))
        or p.startswith("results/figures/survey_v.")
        for p in others
    ), sorted(others)
    default = planned_outputs(copy_workflow(tmp_path / "default", TINY))
    assert not any(p.startswith("results/p/") or "p_" in Path(p).name for p in default)


@pytest.mark.slow
def test_report(workflow_run):
    # `snakemake --report` from the finished run: the workflow description and every figure's caption.
    snakemake(workflow_run, "--report", "report.html", "all", "paper")
    html = (workflow_run / "report.html").read_text()
    assert "regenerates the learning-curve and finite-width results" in html
    for caption in sorted((REPO / "workflow/report").glob("*.rst")):
        words = caption.read_text().split()[:4]
        first_words = " ".join(w for w in words[: next((i for i, w in enumerate(words) if "`" in w), 4)])
        assert first_words in html, caption.name
    for exp in ("a", "b"):
        assert f"{exp}_learning_curves.png" in html


def start_snakemake(wf, *args, stdout=subprocess.DEVNULL):
    """snakemake --cores 2 in the workflow copy wf, in its own session (one process group: every process of the run
    can be found and signalled afterwards); output to `stdout` (stderr with it)."""
    return subprocess.Popen([str(BIN / "snakemake"), "--cores", "2", *args], cwd=wf, stdout=stdout,
                            stderr=subprocess.STDOUT, start_new_session=True, env=env_with_bin())  # fmt: skip


def wait_while_running(proc, ready, seconds: float = 600) -> None:
    """Poll (a loaded 2-core machine: generous bound) until ready() holds, the run ends or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.slow
def test_killed_run_resumes_and_reproduces(workflow_run, tmp_path):
    # SIGKILL the whole snakemake process group while a training job samples (after its burn-in checkpoint):
    # no store is half written; after --unlock the rerun resumes training from the checkpoint, and every store is
    # bitwise the one of the uninterrupted run of the same config (reproducibility across runs, too).
    wf = copy_workflow(tmp_path, only("b"))
    checkpoint = wf / "results/.checkpoints/b/n8_w16.npz"
    proc = start_snakemake(wf)
    wait_while_running(proc, checkpoint.exists)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists(), "the training job finished or never checkpointed before the kill"
    assert not (wf / "results/b/train/n8_w16.zarr").exists()
    for path in stores(wf).values():
        store.read(path)  # whatever exists is complete
    assert not list((wf / "results").rglob(".*.tmp-*"))
    snakemake(wf, "--unlock")
    snakemake(wf, "--rerun-incomplete")
    assert store.read(wf / "results/b/train/n8_w16.zarr").attrs["resumed_from_checkpoint"] == 1
    assert not checkpoint.exists()
    assert_same_stores(wf, workflow_run)


@pytest.mark.slow
def test_output_cache_is_shared_between_workflows(workflow_run, tmp_path):
    # Exact GP and training are cached between workflow copies (SNAKEMAKE_OUTPUT_CACHE): the second copy fetches
    # them instead of running them, and gets the same numbers.
    env = {"SNAKEMAKE_OUTPUT_CACHE": str(tmp_path / "cache")}
    (tmp_path / "cache").mkdir()
    targets = ["results/b/gp.zarr", "results/b/train/n8_w16.zarr", "results/b/theory.zarr"]
    first = copy_workflow(tmp_path / "one", only("b"))
    snakemake(first, "--cache", *targets, env=env)
    second = copy_workflow(tmp_path / "two", only("b"))
    out = snakemake(second, "--cache", *targets, env=env)
    log = out.stdout + out.stderr
    for cached in ("results/b/gp.zarr", "results/b/train/n8_w16.zarr"):
        assert re.search(rf"{re.escape(cached)}/\S+ from cache", log), cached
        assert (second / cached / "zarr.json").resolve().is_relative_to(tmp_path / "cache")
    train_log = "logs/b/train_n8_w16.log"  # the training job did not run: no progress written
    assert (first / train_log).stat().st_size > 0 and (second / train_log).stat().st_size == 0
    assert not (second / "results/b/theory.zarr/zarr.json").is_symlink()  # uncached rules run
    assert_same_stores(second, workflow_run)


@pytest.mark.parametrize("options, message", [("ro,size=1m", "is not writable"), ("size=10m", "MiB free")])
def test_unwritable_or_full_results_stops_before_any_job(tmp_path, options, message):
    wf = copy_workflow(tmp_path, only("b"))
    with tmpfs(wf / "results", options):
        proc = snakemake(wf, check=False)
    assert proc.returncode != 0 and message in proc.stdout + proc.stderr
    assert not (wf / "logs").exists()


@pytest.mark.slow
def test_partial_reruns(workflow_run, tmp_path):
    wf = workflow_run
    cfg_path = wf / "config/config.yaml"

    def with_change(edit, section="experiments", *targets):
        cfg = yaml.safe_load(yaml.safe_dump(TINY))
        edit(cfg[section])
        cfg_path.write_text(yaml.safe_dump(cfg))
        try:
            return planned_outputs(wf, *targets)
        finally:
            cfg_path.write_text(yaml.safe_dump(TINY))

    figures, compare = figure_files, comparison_files

    figs = figures("a") | figures("b")
    finite_width_figures = {
        f"results/figures/finite_width_f_{fig}.{x}" for fig in FINITE_WIDTH_FIGURES for x in ("png", "pdf")
    }
    # figures that show the trained networks
    fig_a, fig_b = figures("a", ["networks", "learning_curves"]), figures("b", ["networks", "learning_curves"])
    diag_a, diag_b = figures("a", ["diagnostics"]), figures("b", ["diagnostics"])  # every training job's traces

    def set_members(e):
        e["a"]["train"]["members"] = 4

    train_a = {"results/a/train/n4_w16.zarr", "results/a/train/n8_w16.zarr", "results/a/train/n8_w8.zarr"}
    width_fig_a = {
        f"results/figures/a_{f}.{x}" for f in ("width_convergence", "finite_width_bayes") for x in ("png", "pdf")
    }
    assert with_change(set_members) == train_a | fig_a | width_fig_a | diag_a

    def set_checkpoint_interval(e):
        e["a"]["train"]["checkpoint_minutes"] = 1  # does not change any result

    assert with_change(set_checkpoint_interval) == set()

    def set_width(e):
        e["b"]["model"]["width"] = 32  # the infinite-width theory does not see the width

    assert with_change(set_width) == {"results/b/train/n8_w32.zarr"} | fig_b | diag_b

    def set_ridge(e):
        e["b"]["ridge"] = 0.3

    assert (
        with_change(set_ridge)
        == {
            "results/b/theory.zarr",
            "results/b/gp.zarr",
            "results/b/train/n8_w16.zarr",
        }
        | figures("b")
        | compare("b")
        | diag_b
    )

    def set_spectra_depths(sp):
        sp["s"]["depths"] = [2, 4]

    spectra_outputs = {"results/spectra/s.zarr", "results/figures/spectra_s.png", "results/figures/spectra_s.pdf"}
    assert with_change(set_spectra_depths, section="spectra") == spectra_outputs

    hp_train = {f"results/hyperparameters/h/train/p{i}.zarr" for i in range(2)}
    hp_summary = {f"results/hyperparameters/h/{f}" for f in ("validation.zarr", "validation.csv", "summary.csv")}
    hp_summary |= {"results/figures/hyperparameters_h.png", "results/figures/hyperparameters_h.pdf"}
    hp_scan = {"results/hyperparameters/h/scan.zarr"} | hp_train | hp_summary

    def set_validation_samples(hp):
        hp["h"]["validate"]["n_samples"] = 12  # the training jobs and what reads them, not the scan

    assert with_change(set_validation_samples, section="hyperparameters") == hp_train | hp_summary

    def set_grid_ridges(hp):
        hp["h"]["grid"]["ridge"] = [0.1, 0.2]

    assert with_change(set_grid_ridges, section="hyperparameters") == hp_scan

    def set_depth_scale_points(fw):
        fw["f"]["depth_scales"]["points"] = 4  # one figure's block: its own rules rerun, the other figures' do not

    assert with_change(set_depth_scale_points, "finite_width") == set()  # F1-F8 are built by `paper` only
    assert with_change(set_depth_scale_points, "finite_width", "paper") == {
        "results/finite_width/f/depth_scales.zarr",
        "results/figures/finite_width_f_depth_scales.png",
        "results/figures/finite_width_f_depth_scales.pdf",
    }

    # Editing a library module's code reruns exactly the stages whose scripts import it, directly or through other
    # modules (code_version: the import graph); editing its comments or docstrings reruns nothing.
    def planned_after_editing(module, *targets, edit="\n_edited = 1\n"):
        lib = wf / f"src/nnft/{module}.py"
        original = lib.read_text()
        lib.write_text(original + edit)
        try:
            return planned_outputs(wf, *targets)
        finally:
            lib.write_text(original)

    assert planned_after_editing("activations", edit="\n# a comment\n") == set()
    with_docstring = planned_after_editing("theory/kernels", edit='\n\ndef f():\n    """A docstring."""\n')
    assert with_docstring == planned_after_editing("theory/kernels", edit="\n\ndef f():\n    pass\n")

    theory_gp = {f"results/{e}/{s}.zarr" for e in "ab" for s in ("theory", "gp")}
    survey_fig = {"results/figures/survey_v.png", "results/figures/survey_v.pdf"}
    # the three survey stages share one script, so they share one code version
    survey_all = {f"results/survey/v/{s}.zarr" for s in ("double_descent", "lazy", "depth")} | survey_fig
    # Every figure of the default target: each figure script imports one plots family, and with it the package
    # nnft.plots; the families import no other nnft module, so editing one redraws its own figures only.
    spectra_fig = {f"results/figures/spectra_s.{x}" for x in ("png", "pdf")}
    hp_fig = {f"results/figures/hyperparameters_h.{x}" for x in ("png", "pdf")}
    width_convergence_a = figures("a", ["width_convergence"])
    finite_width_bayes_a = figures("a", ["finite_width_bayes"])
    every_figure = figs | diag_a | diag_b | width_fig_a | survey_fig | spectra_fig | hp_fig
    hp_downstream = hp_train | hp_summary  # hyperparameter_train reaches langevin and learning_curves
    assert planned_after_editing("plots/__init__") == every_figure
    assert planned_after_editing("plots/learning_curves") == figs | diag_a | diag_b | width_convergence_a
    assert planned_after_editing("plots/learning_curves", "paper") == figures("p", ["fig1"])
    assert planned_after_editing("plots/spectra") == spectra_fig
    assert planned_after_editing("plots/hyperparameters") == hp_fig
    assert planned_after_editing("plots/survey") == survey_fig
    assert planned_after_editing("plots/finite_width_bayes") == finite_width_bayes_a
    assert planned_after_editing("plots/style") == finite_width_bayes_a  # and F1-F8 (finite_width imports it too)
    assert planned_after_editing("plots/finite_width") == set()
    assert planned_after_editing("experiments/survey") == survey_all
    # learning_curves: its stages and what reads them (every figure of the GP and the theories), and the scripts that
    # import it (the learning-curve and mode-error figures; the hyper-parameter and survey stages; the finite-width
    # theory, whose GP solves are learning_curves.gp_solve)
    fwb_a = finite_width_bayes_a | {"results/a/finite_width_bayes/theory.zarr"}
    assert planned_after_editing("theory/learning_curves") == (
        theory_gp | compare("a") | compare("b") | figs | width_convergence_a | hp_scan | survey_all | fwb_a
    )
    # langevin: the training jobs, and the figures whose scripts summarise networks (plots itself does not import it)
    train_all = train_a | {"results/b/train/n8_w16.zarr"}
    assert planned_after_editing("sampling/langevin") == train_all | fig_a | fig_b | diag_a | diag_b | width_fig_a | (
        hp_downstream
    )
    # finite_width_bayes: its theory stage and the one figure that reads it (and computes its curves with it)
    assert planned_after_editing("theory/finite_width_bayes") == finite_width_bayes_a | {
        "results/a/finite_width_bayes/theory.zarr"
    }
    # model, kernels and activations sit under everything but the data (sphere also under the data)
    everything_but_data = {f"results/{e}/{s}.zarr" for e in "ab" for s in ("spectrum", "theory", "gp")}
    everything_but_data |= train_a | {"results/b/train/n8_w16.zarr", "results/a/finite_width_bayes/theory.zarr"}
    everything_but_data |= every_figure | spectra_outputs | compare("a") | compare("b") | hp_scan | survey_all
    assert planned_after_editing("activations") == everything_but_data
    assert planned_after_editing("model") == everything_but_data
    # (the finite-width-Bayes theory too: its layer map is theory.kernels.kernel_map)
    assert planned_after_editing("theory/kernels") == everything_but_data
    data_stores = {"results/a/data.zarr", "results/b/data.zarr", "results/hyperparameters/h/data.zarr"}
    data_stores |= {"results/a/data/n4.zarr", "results/a/data/n8.zarr", "results/b/data/n8.zarr"}  # training datasets
    assert planned_after_editing("sphere") == everything_but_data | data_stores
    assert planned_after_editing("experiments/hyperparameters") == hp_scan
    finite_width_stores = ("ensembles", "kernel_flow", "phase_diagram", "depth_scales", "trainability", "ntk")
    finite_width = {f"results/finite_width/f/{s}.zarr" for s in finite_width_stores + ("ntk_training",)}
    f1_f8 = finite_width_figures | {
        f"results/figures/finite_width_f_{f}.{x}" for f in PAPER_FINITE_WIDTH_FIGURES for x in ("png", "pdf")
    }
    finite_width |= f1_f8
    assert planned_after_editing("theory/finite_width") == set()
    assert planned_after_editing("theory/finite_width", "paper") == finite_width
    assert planned_after_editing("plots/finite_width", "paper") == f1_f8
    assert planned_after_editing("plots/style", "paper") == f1_f8
    assert planned_outputs(wf) == set()


@pytest.mark.slow
def test_missing_stores_are_rebuilt(workflow_run, tmp_path):
    # Every store is a target: a missing one is rebuilt by the next run although the figures that read it exist,
    # and with it what reads it (Snakemake reruns a job whose input is rewritten: it cannot know the new store holds
    # the same numbers). Nothing upstream of it reruns.
    wf = workflow_run
    fig_a, fig_b = (
        figure_files("a", ["networks", "learning_curves"]),
        figure_files("b", ["networks", "learning_curves"]),
    )
    diag_a, diag_b = figure_files("a", ["diagnostics"]), figure_files("b", ["diagnostics"])
    hp_summary = {f"results/hyperparameters/h/{f}" for f in ("validation.zarr", "validation.csv", "summary.csv")}
    hp_summary |= {"results/figures/hyperparameters_h.png", "results/figures/hyperparameters_h.pdf"}
    hp_scan = {"results/hyperparameters/h/scan.zarr", "results/hyperparameters/h/train/p0.zarr"}
    hp_scan |= {"results/hyperparameters/h/train/p1.zarr"} | hp_summary
    survey_fig = {"results/figures/survey_v.png", "results/figures/survey_v.pdf"}
    b_theory = comparison_files("b") | figure_files("b")
    cases = {  # deleted store: the outputs of the jobs that rebuild it and read it
        "results/b/data.zarr": {"results/b/gp.zarr"} | b_theory,  # the training jobs read data/n<n>.zarr
        "results/b/spectrum.zarr": {"results/b/theory.zarr", "results/b/gp.zarr"} | b_theory,
        "results/b/theory.zarr": b_theory,
        "results/b/gp.zarr": b_theory,
        "results/b/comparison.zarr": {"results/b/comparison.csv"} | figure_files("b", ["learning_curves"]),
        "results/b/train/n8_w16.zarr": fig_b | diag_b,
        "results/b/data/n8.zarr": {"results/b/train/n8_w16.zarr"} | fig_b | diag_b,
        "results/a/data/n8.zarr": {"results/a/train/n8_w16.zarr", "results/a/train/n8_w8.zarr"}
        | {"results/a/finite_width_bayes/theory.zarr"}
        | fig_a
        | diag_a
        | figure_files("a", ["width_convergence", "finite_width_bayes"]),
        "results/a/train/n8_w8.zarr": diag_a | figure_files("a", ["width_convergence", "finite_width_bayes"]),
        "results/a/finite_width_bayes/theory.zarr": figure_files("a", ["finite_width_bayes"]),
        "results/spectra/s.zarr": {"results/figures/spectra_s.png", "results/figures/spectra_s.pdf"},
        "results/survey/v/lazy.zarr": survey_fig,
        "results/hyperparameters/h/data.zarr": hp_scan,
        "results/hyperparameters/h/scan.zarr": hp_scan,
        "results/hyperparameters/h/train/p1.zarr": hp_summary,
        "results/hyperparameters/h/validation.zarr": hp_summary,
    }
    paper_cases = {  # the paper target's stores
        "results/p/cutoff_convergence.zarr": figure_files("p", ["fig1"]),
        "results/finite_width/f/ntk.zarr": figure_files("finite_width_f", ["ntk"]),
    }
    for targets, table in (((), cases), (("paper",), paper_cases)):
        for deleted, downstream in table.items():
            aside = tmp_path / "aside"
            shutil.move(wf / deleted, aside)  # a rename: the store keeps its mtime when it comes back
            try:
                assert planned_outputs(wf, *targets) == {deleted} | downstream, deleted
            finally:
                shutil.move(aside, wf / deleted)
    assert planned_outputs(wf) == set()


def script_jobs(wf: Path) -> dict[int, str]:
    """The live job processes of the workflow copy wf (pid: command line), found as README's recovery section finds
    them: every rule is a `script:` rule, run as python <wf>/.snakemake/scripts/tmp<...>.<rule>.py."""
    found = subprocess.run(["pgrep", "-af", f"{wf}/.snakemake/scripts/"], capture_output=True, text=True).stdout
    return {int(pid): cmd for pid, cmd in (line.split(maxsplit=1) for line in found.splitlines())}


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM])  # kill -INT takes the same handler (measured; not rerun here)
def test_stopping_snakemake_stops_its_jobs(workflow_run, tmp_path, signum):
    # `kill -TERM <pid>` (or -INT) to snakemake alone, not its process group, while a --forcerun training job
    # samples (after its burn-in checkpoint). Snakemake 9 by itself would wait for the running jobs to finish; the
    # workflow's handler (workflow/rules/signals.smk) terminates them first. snakemake exits within a minute, no
    # process of the run is left, no lock either: a plain rerun rebuilds the stores the stopped run removed
    # (`--forcerun` deletes a job's outputs when it starts; the missing stores are targets), resuming the stopped
    # jobs' checkpoints, bitwise the uninterrupted run's. SIGKILL of the whole process group (which leaves the lock:
    # --unlock) and its resumption are test_killed_run_resumes_and_reproduces.
    wf = tmp_path / "wf"
    shutil.copytree(workflow_run, wf, symlinks=True)  # copy2 keeps the mtimes: the copy is up to date
    checkpoints = wf / "results/.checkpoints"
    log = tmp_path / "snakemake.log"
    with log.open("w") as out:
        proc = start_snakemake(wf, "--forcerun", "train", stdout=out)
    try:
        deadline, training = time.monotonic() + 600, []  # a loaded 2-core machine: poll, generous bounds
        while proc.poll() is None and time.monotonic() < deadline:
            training = [pid for pid, cmd in script_jobs(wf).items() if cmd.endswith(".train.py")]
            if training and list(checkpoints.rglob("n*.npz")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before a training job checkpointed:\n" + log.read_text()[-3000:]
        assert training, "no training job running after 600 s"
        proc.send_signal(signum)
        sent = time.monotonic()
        proc.wait(timeout=60)
        stopped_after = time.monotonic() - sent
        while process_group_alive(proc.pid) and time.monotonic() - sent < 90:  # exited jobs are reaped by init
            time.sleep(0.1)
        assert not process_group_alive(proc.pid), subprocess.run(
            ["ps", "-o", "pid,ppid,stat,etime,args", "-g", str(proc.pid)], capture_output=True, text=True
        ).stdout
        assert script_jobs(wf) == {}
    finally:
        if process_group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert proc.returncode == 1, text[-3000:]  # "At least one job did not complete successfully."
    assert stopped_after < 60
    stopped = sorted(p.relative_to(checkpoints) for p in checkpoints.rglob("n*.npz"))
    assert stopped, "no training job was stopped while it sampled:\n" + text[-3000:]
    assert not list((wf / ".snakemake/locks").glob("*")), "snakemake left its lock"
    missing = [f"results/{k.parent}/train/{k.stem}.zarr" for k in stopped]
    assert not any((wf / m).exists() for m in missing)
    snakemake(wf)  # no --unlock
    for m in missing:
        assert store.read(wf / m).attrs["resumed_from_checkpoint"] == 1, m
    assert not list(checkpoints.rglob("*.npz"))
    assert_same_stores(wf, workflow_run)
    assert planned_outputs(wf) == set()


def reversed_keys(value):
    """value with every mapping's keys in reverse order (the config as another tool might write it)."""
    if isinstance(value, dict):
        return {k: reversed_keys(value[k]) for k in sorted(value, reverse=True)}
    if isinstance(value, list):
        return [reversed_keys(v) for v in value]
    return value


@pytest.mark.slow
def test_config_spelling_reruns_nothing(workflow_run):
    # The config re-dumped in another key order, with schema defaults written out and numbers spelled differently
    # (1e-1 for 0.1: a string to YAML 1.1, a float to YAML 1.2), is the same config: no job's params change.
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    cfg["experiments"]["b"]["model"] = {"parametrization": "ntk", **cfg["experiments"]["b"]["model"]}  # defaults
    cfg["experiments"]["a"]["target"]["directions"] = 1
    cfg["experiments"]["a"]["train"]["checkpoint_minutes"] = 5
    text = yaml.safe_dump(reversed_keys(cfg), sort_keys=False)
    assert planned_with_config(workflow_run, text) == set()
    for plain, spelled in (
        ("ridge: 0.1\n", "ridge: 1e-1\n"),
        ("tol: 0.001\n", "tol: 1E-3\n"),
        ("noise: 0.2\n", "noise: 2.0e-1\n"),
    ):
        assert plain in text
        text = text.replace(plain, spelled)
    assert planned_with_config(workflow_run, text) == set()
    assert planned_with_config(workflow_run, text, "paper") == set()
    # one real change still reruns what it should
    assert planned_with_config(workflow_run, text.replace("ridge: 1e-1\n", "ridge: 2e-1\n")) >= {
        "results/a/theory.zarr",
        "results/a/gp.zarr",
        "results/a/train/n4_w16.zarr",
    }


@pytest.mark.slow
def test_growing_n_train_retrains_no_network(workflow_run):
    # A new size changes the datasets' largest size, so data, theory and exact GP (and what reads them) rerun; the
    # training jobs read their own size's datasets (data/n<n>.zarr), which do not change: none reruns, nor does the
    # 1/width theory on the width-convergence datasets.
    wf = workflow_run
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    cfg["experiments"]["a"]["n_train"] = [4, 8, 16]
    cfg["experiments"]["b"]["n_train"] = [4, 8, 12]
    expected = {f"results/{e}/{s}.zarr" for e in "ab" for s in ("data", "theory", "gp")}
    expected |= comparison_files("a") | comparison_files("b") | figure_files("a") | figure_files("b")
    expected |= figure_files("a", ["width_convergence", "finite_width_bayes"])  # they draw the GP of data.zarr
    assert planned_with_config(wf, yaml.safe_dump(cfg)) == expected
    # the training jobs' datasets are those of exact GP: the first draws and rows of data.zarr (labels with noise too)
    for e, n in (("a", 4), ("a", 8), ("b", 8)):
        small, full = store.read(wf / f"results/{e}/data/n{n}.zarr"), store.read(wf / f"results/{e}/data.zarr")
        assert small.sizes["draw"] == TINY["experiments"][e]["train"]["draws"] < full.sizes["draw"]
        for name in ("x_train", "y_train", "g_train"):
            np.testing.assert_array_equal(small[name].values, full[name].values[: small.sizes["draw"], :n])
        for name in ("x_test", "g_test", "term_coefficient", "term_direction"):
            np.testing.assert_array_equal(small[name].values, full[name].values)
    assert TINY["experiments"]["b"]["noise"] > 0


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda e: e["a"].update(noize=0.1), "experiments.a: unknown key 'noize'"),
        (lambda e: e["a"].update(n_test=-5), "experiments.a.n_test = -5: must be >= 1"),
        (lambda e: e["b"]["model"].update(activation="swish"), "activation"),
        (lambda e: e["a"]["train"].update(n_train=[4, 16]), "experiments.a.train.n_train"),
        (lambda e: e["a"]["target"].update(power=[1.0]), "experiments.a.target"),
        (lambda e: e.update({"bad/name": e["a"]}), "bad/name"),
        (lambda e: e["a"]["model"].update(sigma_w2=[1.0, 2.0, 3.0]), "experiments.a.model.sigma_w2"),
        (lambda e: e["a"]["model"].update(activation="leaky_relu(2)"), "activation"),
        (lambda e: e["p"].update(jitter=0.0), "experiments.p.jitter"),
        (lambda e: e["a"].update(kernel="ntk"), "experiments.a.kernel"),
        (lambda e: e["b"].update(ridge=0.0, jitter=1e-8), "experiments.b.ridge"),
        (lambda e: e["p"]["theory"].pop("cutoff_convergence"), "experiments.p.theory.cutoff_convergence"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, edit, message):
    cfg = yaml.safe_load(yaml.safe_dump(TINY))
    edit(cfg["experiments"])
    wf = copy_workflow(tmp_path, cfg)
    proc = snakemake(wf, check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (wf / "results").exists()


def test_lint_is_clean():
    proc = subprocess.run([str(BIN / "snakemake"), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_params_function_is_canonical():
    # A rule's params are compared by repr: a params function outside canonical form (key order, number spelling)
    # reruns jobs whose inputs did not change. Each `*_params(wildcards)` of the rules carries @canonical_params.
    for smk in sorted((REPO / "workflow/rules").glob("*.smk")):
        lines = smk.read_text().splitlines()
        for i, line in enumerate(lines):
            m = re.match(r"def (\w+_params)\(wildcards\)", line)
            if m:
                assert lines[i - 1] == "@canonical_params", f"{smk.name}: {m.group(1)} is not @canonical_params"


def test_ruff_and_snakefmt_are_clean():
    for args in (["check", "."], ["format", "--check", "."]):
        ruff = subprocess.run([str(BIN / "ruff"), *args], cwd=REPO, capture_output=True, text=True)
        assert ruff.returncode == 0, ruff.stdout
    fmt = subprocess.run(
        [str(BIN / "snakefmt"), "--check", "Snakefile", "workflow"], cwd=REPO, capture_output=True, text=True
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_paper_config_is_valid():
    # The GPU-sized config validates and plans its DAG (dry run: nothing executes).
    proc = subprocess.run(
        [str(BIN / "snakemake"), "-n", "--configfile", "config/paper.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "train" in proc.stdout and "figure_width_convergence" in proc.stdout


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A real single-node SLURM cluster on localhost (tests/slurm/start_slurm.sh); every daemon it started is
    stopped by PID afterwards. Needs root (it installs Debian packages and writes /etc/slurm); skipped elsewhere
    unless NNFT_CI=1, where it must run."""
    if os.geteuid() != 0:
        if os.environ.get("NNFT_CI") == "1":
            pytest.fail("the slurm test needs root in CI")
        pytest.skip("starting a SLURM cluster needs root")
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "SLURM_CI_DIR": str(state)}
    conf = Path("/etc/slurm/slurm.conf")
    conf_before = conf.read_bytes() if conf.exists() else None
    start = subprocess.run(
        ["bash", str(REPO / "tests/slurm/start_slurm.sh")], env=env, capture_output=True, text=True, timeout=600
    )
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        yield state
    finally:
        subprocess.run(["bash", str(REPO / "tests/slurm/stop_slurm.sh")], env=env, timeout=60)
        pids = [int(p) for p in (state / "pids").read_text().split()] if (state / "pids").exists() else []
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _proc_state(p)]
        assert not alive, f"daemons still running: {alive}"
        assert (conf.read_bytes() if conf.exists() else None) == conf_before, "/etc/slurm/slurm.conf not restored"


REPORT_SECTIONS = (  # one per source paper (workflow/rules/common.smk), and the project's own
    "Cohen, Malka & Ringel (v2): Fig. 1 and claims",
    "Roberts, Yaida & Hanin (PDLT); Grosvenor & Jefferson: finite width and criticality",
    "Berner, Grohs, Kutyniok & Petersen: survey results",
    "Learning curves",
)


@pytest.mark.slow
def test_report_renders_in_a_browser(workflow_run, tmp_path):
    # The report of the tiny run (both targets) opened in Debian's headless Chromium: a section per paper; every
    # figure, shown as a reader's click shows it, is decoded by the browser at its full size and fills the
    # screenshot's content area with a picture of its own (no two screenshots alike); every result's caption is
    # on the page when its description is opened, and the claim table is a downloadable result with its caption.
    import matplotlib.image
    from selenium.webdriver.support.ui import WebDriverWait

    from tests import browser

    report = tmp_path / "report.html"
    snakemake(workflow_run, "--report", str(report), "all", "paper")
    driver = browser.driver(tmp_path / "profile")
    try:
        driver.get(report.as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return typeof app === 'object' && app !== null"))
        sections = driver.execute_script("return Object.keys(categories)")
        assert set(REPORT_SECTIONS) <= set(sections), sections
        menu = driver.execute_script("return document.body.innerText")
        assert all(section in menu for section in REPORT_SECTIONS)
        results = driver.execute_script("return Object.keys(results)")
        assert "results/p/claims.csv" in results and "results/figures/p_fig1.png" in results
        fingerprints = {}
        for path in results:
            caption = driver.execute_script(
                "const div = document.createElement('div'); div.innerHTML = results[arguments[0]].caption || '';"
                "return div.textContent.replace(/\\s+/g, ' ').trim()",
                path,
            )
            assert len(caption) > 40, path
            driver.execute_script("app.showResultInfo(arguments[0])", path)
            WebDriverWait(driver, 10).until(
                lambda d, c=caption[:60]: c in d.execute_script("return document.body.innerText.replace(/\\s+/g, ' ')")
            )
            if not path.endswith(".png"):
                continue
            driver.execute_script(
                "app.setView({content: 'img', contentPath: results[arguments[0]].data_uri, resultPath: arguments[0]})",
                path,
            )
            size = WebDriverWait(driver, 20).until(
                lambda d, p=path: d.execute_script(
                    "const i = Array.from(document.images).find(x => x.src === results[arguments[0]].data_uri);"
                    "return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.getBoundingClientRect().width]"
                    " : null",
                    p,
                )
            )
            assert size[0] >= 600 and size[1] >= 300, (path, size)
            shot = matplotlib.image.imread(io.BytesIO(driver.get_screenshot_as_png()), format="png")
            content = shot[:, int(0.4 * shot.shape[1]) :, :3]  # right of the navigation bar
            drawn = np.mean(np.abs(content - 1.0).sum(-1) > 0.1)
            assert drawn > 0.02, (path, drawn)
            fingerprints[path] = content[::8, ::8].round(1).tobytes()
        assert len(fingerprints) >= 10 and len(set(fingerprints.values())) == len(fingerprints)
    finally:
        driver.quit()


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.slow
@pytest.mark.slurm
def test_slurm_profile_runs_the_tiny_dag(workflow_run, slurm_cluster, tmp_path):
    # The unchanged workflow through snakemake-executor-plugin-slurm with profiles/slurm: every job is an sbatch
    # job (training with --gpus=1 on the fake GPU), every output is there and bitwise the local run's. The
    # finite-width and survey stages and experiment a are left out here (CPU-only rules or more of the same; they
    # cost minutes of CI): experiment b, the spectra and the hyper-parameter scan keep every kind of job.
    config = {k: v for k, v in TINY.items() if k not in ("finite_width", "survey")} | only("b")
    wf = copy_workflow(tmp_path, config)
    # the shipped profile, with its per-rule requests shrunk to fit the 2-core test node
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    for rule in profile["set-resources"].values():
        rule.update(cpus_per_task=1, mem_mb=min(rule.get("mem_mb", 2000), 2000))
    profile["set-threads"] = {rule: 1 for rule in profile["set-threads"]}
    # the plugin polls squeue every 10 s (+10 s while nothing finished): seconds-long jobs would wait on the poll
    profile["slurm-init-seconds-before-status-checks"] = 1
    (wf / "profiles/slurm-ci").mkdir()
    (wf / "profiles/slurm-ci/config.yaml").write_text(yaml.safe_dump(profile))
    proc = subprocess.run(
        [str(BIN / "snakemake"), "--profile", "profiles/slurm-ci"],
        cwd=wf,
        capture_output=True,
        text=True,
        timeout=1200,
        env=env_with_bin(),
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+) \(log: \S*/rule_(\w+)/", log)
    rules = {rule for _, rule in submitted}
    assert {"data", "spectrum", "theory", "gp", "train", "compare", "spectra", "figure_networks"} <= rules
    assert {"hyperparameter_scan", "hyperparameter_train", "figure_hyperparameters"} <= rules
    train_jobs = [job for job, rule in submitted if rule == "train"]
    assert len(train_jobs) == 1
    for job in (train_jobs[0], next(job for job, rule in submitted if rule == "hyperparameter_train")):
        shown = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout
        assert "gres/gpu=1" in shown or "gres:gpu:1" in shown, shown
    check_outputs(wf, config)
    assert_same_stores(wf, workflow_run)
