"""``circuitc train --optimizer lbfgs|newton-cg|trust-ncg``: SciPy's full-batch optimizers on the
module's gradient and Hessian-vector products (issue 13; ``training/scipy_opt.py``)."""

from __future__ import annotations

#: the --optimizer names that run SciPy (the rest are SGD's update rules)
SCIPY_OPTIMIZERS = ("lbfgs", "newton-cg", "trust-ncg")


def add_optimizer(p) -> None:
    """``--optimizer`` (SGD's update rules and SciPy's optimizers) and ``--l2-C``."""
    from .common import positive_float

    p.add_argument(
        "--optimizer",
        choices=("sgd", "adam", *SCIPY_OPTIMIZERS),
        help="update rule (default sgd); lbfgs, newton-cg and trust-ncg run SciPy's full-batch "
        "optimizers on the module's gradient and Hessian-vector products (the scipy extra)",
    )
    p.add_argument(
        "--l2-C",
        dest="l2_C",
        metavar="C",
        type=positive_float,
        help="L2 penalty for the SciPy optimizers as scikit-learn's C: mean loss + "
        "|θ|²/(2·C·N), the bias unpenalised (default none)",
    )


def check_l2(args, settings: dict) -> None:
    """``--l2-C`` belongs to the SciPy optimizers: with SGD it is a one-line error."""
    from .common import CliError

    if getattr(args, "l2_C", None) is not None and settings["optimizer"] not in SCIPY_OPTIMIZERS:
        raise CliError("--l2-C is an option of the SciPy optimizers (--optimizer lbfgs, ...)")


def train_scipy(module, run, reporter):
    """Full batch from the run's starting parameters to the optimum: one line saying how it
    went, the parameter file written once. Returns ``(params, history)`` as ``sgd.train``."""
    from ..training import checkpoint, scipy_opt
    from .common import CliError

    args, s = reporter.args, run.settings
    try:
        params, history = scipy_opt.train(
            module, run.dataset, method=s["optimizer"], params=run.params, l2_C=args.l2_C,
            seed=s["seed"],
        )  # fmt: skip
    except scipy_opt.ScipyMissing as e:
        raise CliError(str(e)) from None
    r = history.scipy
    if not args.quiet:
        penalty = f", C {args.l2_C:g}" if args.l2_C is not None else ""
        print(
            f"{s['optimizer']} (full batch{penalty}): {r.iterations} iterations, {r.evaluations} "
            f"gradients, {r.hvps} Hessian-vector products; objective {r.objective:.10g}, "
            f"|gradient| {r.gradient_norm:.3g}" + ("" if r.success else f" ({r.message})")
        )
    config = dict(run.config, l2_C=args.l2_C)
    checkpoint.save(
        reporter.out, module, params, preprocessing=run.pre, data=run.dataset, config=config
    )
    return params, history
