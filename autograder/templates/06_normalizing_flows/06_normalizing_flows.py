# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 · Continuous normalizing flows
#
# A flow-matching policy such as pi0 makes an action chunk by starting from Gaussian noise and
# following a learned velocity field for a short time. Before learning such a field (next
# assignment), we need the machinery that *uses* one: solving the ODE, and knowing what the
# solution does to probability density. That is a **continuous normalizing flow** (CNF):
#
# $$\frac{dx_t}{dt} = v(x_t, t), \qquad x_0 \sim p_0 \text{ (noise)}, \qquad x_1 \sim p_1 \text{ (the model's distribution)}.$$
#
# You will implement, check and then use:
#
# 1. **Euler** and **RK4** solvers for a time-dependent field;
# 2. the exact **divergence** of a field, by automatic differentiation;
# 3. the **log-density** of a transported sample, by the instantaneous change of variables.
#
# Sources: Chen, Rubanova, Bettencourt & Duvenaud, *Neural Ordinary Differential Equations* (2018)
# introduced CNFs and the instantaneous change of variables; Grathwohl, Chen, Bettencourt,
# Sutskever & Duvenaud, *FFJORD* (2019) made them scale with trace estimates; Lipman, Chen,
# Ben-Hamu, Nickel & Le, *Flow Matching for Generative Modeling* (2023) train the field without
# solving any ODE during training, which is what robot policies use today.
#
# **Conventions.** Flow time `t` runs in `[0, 1]`: `t = 0` is noise, `t = 1` is data (as in
# Lipman et al. and `torchcfm`; pi0's code uses the reverse, which assignment 09 converts
# explicitly). A field is a function `v(x, t)`: `x` has shape `(N, D)`, `t` is a float here (the
# fields we provide also accept a tensor with one time per point), and it returns `(N, D)`.
# Tensors are `float32` unless we say otherwise. Each exercise has a check cell: run it and read
# its message.

# %%
import math

import torch

from coursekit.checks.visible import checker
from coursekit.hints import hinter
from coursekit.validate import ShapeError, check_count, check_flow_times, check_points, checked_field, checked_integration

check = checker("06_normalizing_flows")
hint = hinter("06_normalizing_flows")  # stuck? hint("<function name>"): a nudge, then the key idea, then the formula
torch.manual_seed(0);

# %% [markdown]
# ## 1 · Following a vector field: Euler
#
# Split `[t0, t1]` into `num_steps` steps of size `h = (t1 - t0) / num_steps`, at the times
# `t_k = t0 + k h`. Explicit Euler assumes the velocity stays what it was at the *start* of each step:
#
# $$x_{k+1} = x_k + h\, v(x_k, t_k).$$
#
# Its error after a fixed time shrinks like `h`: it is a *first-order* method. pi0 samples its
# actions with ten such steps.
#
# The validation lines at the top of each function are given; keep them. `checked_field` wraps
# `v` so that a field returning the wrong shape stops with a message naming it. With
# `return_trajectory=True`, also return every state, `x0` included: shape `(num_steps + 1, N, D)`.

# %% graded="euler_integrate" points=2

# %% [markdown]
# ## 2 · Runge–Kutta 4
#
# RK4 samples the velocity four times per step, at the start, twice at the midpoint and at the
# end, and averages them with weights `1, 2, 2, 1` (over 6):
#
# $$k_1 = v(x, t),\quad k_2 = v(x + \tfrac h2 k_1, t + \tfrac h2),\quad k_3 = v(x + \tfrac h2 k_2, t + \tfrac h2),\quad k_4 = v(x + h k_3, t + h),$$
# $$x_{\text{next}} = x + \tfrac h6 (k_1 + 2k_2 + 2k_3 + k_4).$$
#
# Four times the work per step, but the error falls like `h^4`: halving the step divides it by 16.
# The times matter: our fields change with `t`, so evaluating a stage at the wrong time is a
# (common) bug that the check recognises.

# %% graded="rk4_integrate" points=2

# %% [markdown]
# ### Explore: a spiral with a known solution
#
# The field `v(x, t) = a(t) x + ω J x` (with `J` the 90° rotation and `a(t) = a0 + a1 t`) turns
# points at the rate `ω` while the scaling `a(t)` first spreads them out, then pulls them in.
# Because rotation and scaling commute, its flow is known in closed form: a rotation by `ω t`
# times the factor `exp(A(t))`, `A(t) = a0 t + a1 t²/2`. A Gaussian stays Gaussian under it,
# so we also know the exact density `p_t` (the grey heat map).
#
# Move `t` and `steps`. Your Euler (orange) and RK4 (blue) particles start together and should
# track the exact ones (hollow circles); the right panel shows the mean distance from the exact
# solution for 1, 2, 4, … steps. The particles are `float64` here so that RK4's tiny errors are not
# hidden by `float32` rounding.

# %%
from coursekit.assignments.flows.vector_fields import SpiralField, gaussian_log_prob, pushed_gaussian
from widgets.flows import flow_explorer

spiral = SpiralField(a0=1.0, a1=-2.4, omega=2.5)
mean0 = torch.tensor([1.2, 0.0])
cov0 = torch.tensor([[0.16, 0.0], [0.0, 0.02]])   # an elongated blob, so that the rotation shows


def sample_p0(n, seed, dtype=torch.float32):
    """n points from p_0 = N(mean0, cov0)."""
    g = torch.Generator().manual_seed(seed)
    return (mean0 + torch.randn(n, 2, generator=g) @ torch.linalg.cholesky(cov0).T).to(dtype)


def exact_log_p(points, t):
    """The exact log p_t: N(mean0, cov0) carried by the spiral until time t."""
    return gaussian_log_prob(points, *pushed_gaussian(spiral, mean0, cov0, t))


flow_explorer(euler_integrate, rk4_integrate, spiral, spiral.flow, sample_p0(300, 0, torch.float64),
              log_prob=exact_log_p, num_steps=4)

# %%
# Your solvers against the closed form: with enough steps both must land on spiral.flow.
x_test = sample_p0(200, seed=5, dtype=torch.float64)
x_exact = spiral.flow(x_test, 1.0)
err_euler = float((euler_integrate(spiral, x_test, 2000) - x_exact).abs().max())
err_rk4 = float((rk4_integrate(spiral, x_test, 50) - x_exact).abs().max())
print(f"largest error at t = 1: Euler, 2000 steps {err_euler:.1e};  RK4, 50 steps {err_rk4:.1e}")
assert err_euler < 1e-2 and err_rk4 < 1e-6, "a solver does not converge to the exact solution"

# %% [markdown]
# ## 3 · Divergence by autograd
#
# The divergence `div v = Σ_i ∂v_i/∂x_i` measures how fast the flow spreads out (`> 0`) or
# squeezes (`< 0`) the volume around a point. It is the **trace** of the Jacobian `∂v/∂x`: only
# the diagonal entries count.
#
# With autograd, the gradient of `v(x, t)[:, i].sum()` with respect to `x` is, at every point, row
# `i` of that point's Jacobian (the points do not interact, so the sum just batches them). Keep
# its entry `i`, and add up over `i = 0, …, D-1`: `D` backward passes give the exact divergence.
# (FFJORD replaces this loop by one random projection, Hutchinson's estimator, when `D` is large.)
#
# Two practical details. Samplers and these checks run under `torch.no_grad()`, so switch
# autograd back on inside the function with `torch.enable_grad()` (a context manager). And
# differentiate with respect to a fresh leaf tensor: `detach()` the points, then
# `requires_grad_(True)`.

# %% graded="divergence" points=2

# %%
# The divergence of the spiral is 2 a(t), the same at every point: a quick sanity check.
pts = sample_p0(5, 1)
for t in (0.0, 0.5, 1.0):
    div = divergence(spiral, pts, t)
    print(f"t = {t}: divergence at 5 points {[round(d, 4) for d in div.tolist()]}, 2 a(t) = {spiral.divergence(t):.4f}")

# %% [markdown]
# ## 4 · Log-density: the instantaneous change of variables
#
# Follow one particle `x_t`. Around it, a small volume grows at the relative rate `div v`; the
# probability inside stays the same, so the density falls at that rate (Chen et al. 2018, Thm. 1):
#
# $$\frac{d}{dt} \log p_t(x_t) = -\,\mathrm{div}\, v(x_t, t)
# \qquad\Longrightarrow\qquad
# \log p_1(x_1) = \log p_0(x_0) - \int_0^1 \mathrm{div}\, v(x_t, t)\, dt .$$
#
# **Sign convention:** minus the divergence, integrated forward in time from the noise at `t = 0`.
# (Integrating backward from data, as a likelihood evaluation does, turns the integral around: same
# formula, same sign.)
#
# Both equations can be solved together: stack `z = [x, log p]` into an `(N, D + 1)` state whose
# velocity is `[v(x, t), -div v(x, t)]`, start it at `[x0, log_p0]`, and hand this *augmented
# field* to your own solver (`rk4_integrate` for `method="rk4"`, `euler_integrate` for
# `method="euler"`) from `t = 0` to `t1`. Return the two parts, `x_t1` `(N, D)` and `log p_t1` `(N,)`.

# %% graded="log_density" points=3

# %% [markdown]
# ## 5 · Experiments
#
# ### 5a · How fast do the errors fall?
#
# We move 2000 particles with the spiral field from `t = 0` to `t = 1` and measure the mean
# distance from the exact positions for `8, 16, …, 128` steps. If the error behaves like `C h^p`,
# then on a log-log plot it is a line of slope `p`: `fit_order` measures that slope.

# %% provided="fit_order"

# %%
import plotly.graph_objects as go

x_start = sample_p0(2000, seed=1, dtype=torch.float64)   # float64: RK4 reaches errors near 1e-10
x_exact = spiral.flow(x_start, 1.0)
steps = [8, 16, 32, 64, 128]
solvers = {"Euler": euler_integrate, "RK4": rk4_integrate}
errors = {name: [float((solve(spiral, x_start, n) - x_exact).norm(dim=1).mean()) for n in steps]
          for name, solve in solvers.items()}
orders = {name: fit_order(steps, errs) for name, errs in errors.items()}

print("steps " + "".join(f"{n:>11d}" for n in steps))
for name, errs in errors.items():
    print(f"{name:<6}" + "".join(f"{e:>11.2e}" for e in errs) + f"   measured order {orders[name]:.2f}")
assert 0.85 < orders["Euler"] < 1.15, "Euler should be a first-order method"
assert 3.6 < orders["RK4"] < 4.4, "RK4 should be a fourth-order method"

# The fair comparison is at equal cost: RK4 with n steps calls the field 4 n times.
euler_64_calls, rk4_64_calls = errors["Euler"][steps.index(64)], errors["RK4"][steps.index(16)]
print(f"64 field calls: Euler (64 steps) error {euler_64_calls:.1e}, RK4 (16 steps) error {rk4_64_calls:.1e}")
assert rk4_64_calls < euler_64_calls / 100

fig = go.Figure([go.Scatter(x=steps, y=errs, mode="lines+markers", name=f"{name} (order {orders[name]:.2f})")
                 for name, errs in errors.items()])
fig.update_xaxes(type="log", title_text="number of steps")
fig.update_yaxes(type="log", title_text="mean distance to the exact solution", exponentformat="power")
fig.update_layout(height=360, width=560, margin=dict(t=40, l=40, r=20, b=40),
                  title="Error at t = 1 against the number of steps")
fig.show()

# %% [markdown]
# ### 5b · The density of a known flow
#
# The spiral carries the Gaussian `p_0 = N(m, S)` to `p_1 = N(M m, M S Mᵀ)`, with `M` its flow
# matrix. We push 2000 samples with **your** `log_density` and compare the log-density it
# tracks with this closed form, evaluated at the points it produced. Both the positions and the
# integrated divergence have to be right for these to agree.

# %%
x0 = sample_p0(2000, seed=2)                      # float32
log_p0 = gaussian_log_prob(x0, mean0, cov0)
density_error = {}
for method, n in [("euler", 16), ("euler", 64), ("rk4", 16)]:
    x1, log_p1 = log_density(spiral, x0, log_p0, n, method=method)
    density_error[method, n] = float((log_p1 - exact_log_p(x1, 1.0)).abs().max())
    print(f"{method:>5}, {n:3d} steps: largest |log p_1 - exact| = {density_error[method, n]:.2e}")
assert density_error["rk4", 16] < 1e-3, "RK4 with 16 steps should match the closed-form density"
assert density_error["euler", 64] < density_error["euler", 16], "more Euler steps should help"

# %% [markdown]
# ### 5c · A nonlinear flow: trace against determinant
#
# `bend_field` folds the same Gaussian into two curved lobes; its divergence changes from place
# to place, and nobody knows its flow in closed form. We can still check the CNF density
# against a second, independent road: differentiate the *whole* numerical flow map
# `x0 ↦ x1` (through every solver step) and use the ordinary change of variables,
# `log p_1(x_1) = log p_0(x_0) - log |det ∂x_1/∂x_0|`. That needs a full Jacobian; the CNF only
# needs traces along the way, which is what made CNFs practical (FFJORD).

# %% provided="flow_map_log_det"

# %%
from coursekit.assignments.flows.vector_fields import bend_field

x0 = sample_p0(2000, seed=3)
log_p0 = gaussian_log_prob(x0, mean0, cov0)
x1_cnf, log_p1_cnf = log_density(bend_field, x0, log_p0, 32)
x1_map, log_det = flow_map_log_det(rk4_integrate, bend_field, x0, 32)
gap = float((log_p1_cnf - (log_p0 - log_det)).abs().max())
spread = float(log_p1_cnf.max() - log_p1_cnf.min())
print(f"log p_1 spans {spread:.2f} nats; CNF (traces) vs flow-map determinant: largest gap {gap:.1e}")
assert torch.allclose(x1_cnf, x1_map, atol=1e-5)
assert gap < 1e-3 and spread > 3, "the two densities should agree on a density that varies"

# %%
from plotly.subplots import make_subplots

fig = make_subplots(rows=1, cols=2, subplot_titles=["p_0 samples", "p_1 samples, coloured by your log p_1"])
fig.add_scattergl(x=x0[:, 0].numpy(), y=x0[:, 1].numpy(), mode="markers", marker=dict(size=3, color="gray"),
                  showlegend=False, row=1, col=1)
fig.add_scattergl(x=x1_cnf[:, 0].numpy(), y=x1_cnf[:, 1].numpy(), mode="markers", showlegend=False,
                  marker=dict(size=3, color=log_p1_cnf.numpy(), colorscale="Viridis",
                              colorbar=dict(title="log p_1")), row=1, col=2)
fig.update_layout(height=360, width=900, margin=dict(t=40, l=40, r=20, b=40))
fig.show()

# %% [markdown]
# ## Takeaways
#
# - A CNF is an ODE: sampling means solving it, and the solver's order decides how many field
#   evaluations you need (Euler: error ∝ h; RK4: ∝ h⁴ for four evaluations per step).
# - The density follows along: `d log p_t(x_t)/dt = -div v`, integrated with the same solver as
#   one augmented state. Only the Jacobian's trace is needed, never its determinant.
# - Training a CNF by maximum likelihood needs these ODE solves inside the training loop. Flow
#   matching (next assignment, Lipman et al. 2023) regresses the field directly instead, and keeps
#   everything in this notebook for sampling and density evaluation.
