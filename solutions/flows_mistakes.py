"""Common wrong versions of the 06_normalizing_flows functions (see solutions/mistakes.py)."""
from __future__ import annotations

import torch

from coursekit.validate import ShapeError, check_count, check_flow_times, check_points, checked_field, checked_integration
from solutions.flows import divergence, euler_integrate, rk4_integrate
from solutions.mistakes import registry

mistake = registry()


# ---------------------------------------------------------------- Euler
@mistake("euler_integrate", "Euler evaluating at the end time",
         "Explicit Euler uses the velocity at the start of the step: x_{k+1} = x_k + h v(x_k, t_k) "
         "with t_k = t0 + k h, not t_k + h.", showcase=True)
def euler_end_time(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v, t0, t1 = checked_integration(v, x0, num_steps, t0, t1)
    h = (t1 - t0) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        x = x + h * v(x, t0 + (k + 1) * h)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("euler_integrate", "one step too few",
         "torch.linspace(t0, t1, num_steps) has only num_steps - 1 intervals; the time grid of "
         "num_steps steps has num_steps + 1 points, t_k = t0 + k h with h = (t1 - t0) / num_steps.")
def euler_short_grid(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    times = torch.linspace(float(t0), float(t1), num_steps).tolist()
    x = x0
    trajectory = [x]
    for t_now, t_next in zip(times[:-1], times[1:]):
        x = x + (t_next - t_now) * v(x, t_now)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("euler_integrate", "trajectory without the starting point",
         "The trajectory has num_steps + 1 states: x0 first, then the state after each step.")
def euler_trajectory_no_start(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    h = (float(t1) - float(t0)) / num_steps
    x = x0
    trajectory = []
    for k in range(num_steps):
        x = x + h * v(x, float(t0) + k * h)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


# ---------------------------------------------------------------- RK4
@mistake("rk4_integrate", "RK4 stages at the wrong times",
         "The middle stages k2, k3 are evaluated at t + h/2 and k4 at t + h, not all at t.")
def rk4_same_time(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    h = (float(t1) - float(t0)) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = float(t0) + k * h
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t)
        k3 = v(x + 0.5 * h * k2, t)
        k4 = v(x + h * k3, t)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("rk4_integrate", "RK4 half-step times off",
         "k2 and k3 sit at the midpoint t + h/2 and k4 at the end t + h; here the middle stages used t + h.")
def rk4_full_offsets(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    h = (float(t1) - float(t0)) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = float(t0) + k * h
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t + h)
        k3 = v(x + 0.5 * h * k2, t + h)
        k4 = v(x + h * k3, t + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("rk4_integrate", "equal RK4 weights",
         "The stages are weighted 1, 2, 2, 1 and divided by 6: x + h/6 (k1 + 2 k2 + 2 k3 + k4).")
def rk4_equal_weights(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    h = (float(t1) - float(t0)) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = float(t0) + k * h
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = v(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = v(x + h * k3, t + h)
        x = x + h / 4 * (k1 + k2 + k3 + k4)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("rk4_integrate", "k3 built from k1",
         "Each stage starts from the previous one: k3 = v(x + h/2 k2, t + h/2), not x + h/2 k1.")
def rk4_k3_from_k1(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    h = (float(t1) - float(t0)) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = float(t0) + k * h
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = v(x + 0.5 * h * k1, t + 0.5 * h)
        k4 = v(x + h * k3, t + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


@mistake("rk4_integrate", "k4 taken at the half step",
         "The last stage looks a whole step ahead: k4 = v(x + h k3, t + h), not v(x + h/2 k3, t + h).")
def rk4_k4_half_step(v, x0, num_steps, t0=0.0, t1=1.0, return_trajectory=False):
    v = checked_field(v, "v")
    h = (float(t1) - float(t0)) / num_steps
    x = x0
    trajectory = [x]
    for k in range(num_steps):
        t = float(t0) + k * h
        k1 = v(x, t)
        k2 = v(x + 0.5 * h * k1, t + 0.5 * h)
        k3 = v(x + 0.5 * h * k2, t + 0.5 * h)
        k4 = v(x + 0.5 * h * k3, t + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        trajectory.append(x)
    return (x, torch.stack(trajectory)) if return_trajectory else x


# ---------------------------------------------------------------- divergence
@mistake("divergence", "sum of all Jacobian entries instead of the trace",
         "grad of v(x).sum() adds every entry d v_i / d x_j; the divergence keeps only the diagonal, "
         "i = j: take one gradient per output coordinate i and keep its i-th entry.", showcase=True)
def divergence_all_entries(v, x, t):
    check_points("x", x)
    check_flow_times("t", t, x.shape[0], scalar=True)
    v = checked_field(v, "v")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t)
        (grad,) = torch.autograd.grad(out.sum(), x)
    return grad.sum(dim=1)


@mistake("divergence", "only the first diagonal entry",
         "The divergence sums d v_i / d x_i over every coordinate i = 0, ..., D - 1, not just i = 0.")
def divergence_first_entry(v, x, t):
    v = checked_field(v, "v")
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        out = v(x, t)
        (grad,) = torch.autograd.grad(out[:, 0].sum(), x)
    return grad[:, 0]


@mistake("divergence", "autograd unavailable (no_grad or a freed graph)",
         "Checks and samplers call this under torch.no_grad(): wrap the autograd part in "
         "`with torch.enable_grad():` so that v(x, t) records a graph to differentiate. (If the error "
         "says the graph was freed, pass retain_graph=True to every torch.autograd.grad but the last.)")
def divergence_no_enable_grad(v, x, t):
    v = checked_field(v, "v")
    x = x.detach().requires_grad_(True)
    out = v(x, t)
    div = torch.zeros(x.shape[0], dtype=x.dtype)
    for i in range(x.shape[1]):
        (grad_i,) = torch.autograd.grad(out[:, i].sum(), x, retain_graph=True)
        div = div + grad_i[:, i]
    return div


# ---------------------------------------------------------------- log-density
@mistake("log_density", "wrong sign in the log-density integral",
         "Where the flow spreads out (div v > 0) density drops: d/dt log p_t(x_t) = -div v(x_t, t), "
         "so log p_1(x_1) = log p_0(x_0) - integral of div v dt.", showcase=True)
def log_density_plus_div(v, x0, log_p0, num_steps, t1=1.0, method="rk4"):
    check_points("x0", x0)
    if not isinstance(log_p0, torch.Tensor) or log_p0.shape != (x0.shape[0],):
        raise ShapeError(f"log_p0: expected shape ({x0.shape[0]},)")
    v = checked_field(v, "v")
    D = x0.shape[1]

    def augmented(z, t):
        x = z[:, :D]
        return torch.cat([v(x, t), divergence(v, x, t)[:, None]], dim=1)

    z0 = torch.cat([x0, log_p0[:, None]], dim=1)
    if method == "rk4":
        z1 = rk4_integrate(augmented, z0, num_steps, 0.0, t1)
    else:
        z1 = euler_integrate(augmented, z0, num_steps, 0.0, t1)
    return z1[:, :D], z1[:, D]


@mistake("log_density", "time convention reversed",
         "In this course t = 0 is noise and t = 1 is data: evaluate v and its divergence at t, "
         "not at 1 - t (that is the openpi convention, where t = 1 is noise).")
def log_density_reversed_time(v, x0, log_p0, num_steps, t1=1.0, method="rk4"):
    check_points("x0", x0)
    if not isinstance(log_p0, torch.Tensor) or log_p0.shape != (x0.shape[0],):
        raise ShapeError(f"log_p0: expected shape ({x0.shape[0]},)")
    v = checked_field(v, "v")
    D = x0.shape[1]

    def augmented(z, t):
        x = z[:, :D]
        return torch.cat([v(x, 1.0 - t), -divergence(v, x, 1.0 - t)[:, None]], dim=1)

    z0 = torch.cat([x0, log_p0[:, None]], dim=1)
    if method == "rk4":
        z1 = rk4_integrate(augmented, z0, num_steps, 0.0, t1)
    else:
        z1 = euler_integrate(augmented, z0, num_steps, 0.0, t1)
    return z1[:, :D], z1[:, D]


@mistake("log_density", "log p0 not added",
         "The integral gives only the change of log-density; start the log p component at log_p0, "
         "so that log p_1(x_1) = log p_0(x_0) - integral of div v dt.")
def log_density_change_only(v, x0, log_p0, num_steps, t1=1.0, method="rk4"):
    check_points("x0", x0)
    if not isinstance(log_p0, torch.Tensor) or log_p0.shape != (x0.shape[0],):
        raise ShapeError(f"log_p0: expected shape ({x0.shape[0]},)")
    v = checked_field(v, "v")
    D = x0.shape[1]

    def augmented(z, t):
        x = z[:, :D]
        return torch.cat([v(x, t), -divergence(v, x, t)[:, None]], dim=1)

    z0 = torch.cat([x0, torch.zeros_like(log_p0)[:, None]], dim=1)
    if method == "rk4":
        z1 = rk4_integrate(augmented, z0, num_steps, 0.0, t1)
    else:
        z1 = euler_integrate(augmented, z0, num_steps, 0.0, t1)
    return z1[:, :D], z1[:, D]
