"""Hints for 06 (``hint("euler_integrate")``): a nudge, the key idea, the formula. No solution code."""

HINTS = {
    "euler_integrate": (
        "num_steps equal steps of size h = (t1 - t0) / num_steps; the field is evaluated at the START of each step.",
        "Step k starts at time t_k = t0 + k h and moves x by h times the velocity there. v takes a Python float as t. "
        "The trajectory starts with x0 and has num_steps + 1 entries.",
        "x_{k+1} = x_k + h * v(x_k, t0 + k h), for k = 0 ... num_steps - 1.",
    ),
    "rk4_integrate": (
        "Same loop as Euler, but each step asks the field four times and takes a weighted average of the four slopes.",
        "The middle two slopes are taken at half a step (t + h/2), each starting from x moved by half a step along "
        "the previous slope; the last at a full step.",
        "k1 = v(x, t); k2 = v(x + h/2 k1, t + h/2); k3 = v(x + h/2 k2, t + h/2); k4 = v(x + h k3, t + h);  "
        "x_next = x + h/6 (k1 + 2 k2 + 2 k3 + k4).",
    ),
    "divergence": (
        "The divergence is the trace of the Jacobian: only the diagonal entries d v_i / d x_i matter. Autograd "
        "needs x to require gradients, and torch.enable_grad() if the caller switched it off.",
        "Summing output coordinate i over the batch and differentiating with respect to x gives, for every point "
        "at once, row i of its Jacobian (points do not interact). Keep column i of that gradient.",
        "div = sum over i of [ gradient of sum_n v(x, t)[n, i] with respect to x ][:, i]; use retain_graph=True "
        "for all but the last backward pass, and a detached copy of x that requires grad.",
    ),
    "log_density": (
        "Integrate x and its log-density together, as one state of D + 1 columns, with the integrator method names.",
        "Along the flow, d/dt log p = -div v. So the augmented state [x, log p] has velocity [v(x, t), -div v(x, t)]; "
        "start it at [x0, log_p0] and integrate from 0 to t1.",
        "z0 = cat(x0, log_p0 as a column); field(z, t) = cat(v(x, t), -divergence(v, x, t) as a column) with "
        "x = the first D columns of z; z1 = rk4_integrate or euler_integrate(field, z0, num_steps, 0, t1); "
        "return the first D columns and the last one.",
    ),
}
