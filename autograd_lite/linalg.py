"""``al.linalg``: NumPy's ``numpy.linalg`` functions on tensors, each a registered op with its
forward (NumPy's), VJP and JVP. Matrices may be stacked: ``(..., m, n)``, with batch axes that
broadcast as NumPy's do. Real float32/float64 only; see docs/linalg.md for the conventions.

Formulas (``Ā`` the gradient of A, ``⁻ᵀ`` the inverse transpose): Giles 2008, "Collected
matrix derivative results for forward and reverse mode algorithmic differentiation" (inv,
solve, det, pinv, eigh); Murray 2016 / Seeger et al. 2017 (Cholesky); Townsend 2016,
"Differentiating the singular value decomposition" (svd); Walter and Lehmann 2018 / Liao et
al. 2019 (qr). Every VJP is written with registered ops, so
``create_graph=True`` differentiates it again.

Functions that read one triangle of their input (``cholesky``, ``eigh``) are differentiated as
the functions NumPy computes: an element of the ignored triangle gets gradient 0 and an
off-diagonal element of the triangle read stands for both of its symmetric copies (gradient
``Sᵢⱼ + Sⱼᵢ``, ``S`` the gradient for a symmetric input). For a symmetric parametrisation
(``Σ = B Bᵀ + …``) the chain rule gives the same result as the symmetric convention.

Multi-output functions (eigh, svd, qr) are recorded as one op whose output packs the results
(eigh: eigenvalues stacked above the eigenvectors), and the function returns NumPy's named
tuple of slices of it, so a gradient may reach any of the parts.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from autograd_lite import ops, products, shapes
from autograd_lite.errors import InputValueError, ShapeError, SignatureError
from autograd_lite.ops import abs as _abs
from autograd_lite.ops import getitem
from autograd_lite.ops import sum as _sum
from autograd_lite.shapes import moveaxis, real_input, register, swapaxes, tril, triu
from autograd_lite.tensor import Tensor, raw

FAMILY = "linalg"

EighResult = namedtuple("EighResult", "eigenvalues eigenvectors")
SVDResult = namedtuple("SVDResult", "U S Vh")
QRResult = namedtuple("QRResult", "Q R")
SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")


def _linalg(name: str, math: str, forward: Any, *vjps: Any, **options: Any) -> Any:
    return register(name, math, forward, *vjps, family=FAMILY, **options)


def _matrices(name: str, a: Any, square: bool = True) -> np.ndarray:
    """``a`` as a real array of (stacked) matrices, or a clear refusal."""
    a = real_input(f"linalg.{name}", a)
    if a.ndim < 2:
        raise ShapeError(f"linalg.{name}: needs a matrix (or a stack of them, shape (..., m, n))"
                         f", got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"linalg.{name}: needs square matrices, got shape {a.shape} "
                         f"({a.shape[-2]} × {a.shape[-1]})")
    return a


def _lapack(name: str, numpy_fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call numpy.linalg, turning LinAlgError into an error that says what to do."""
    try:
        return numpy_fn(*args, **kwargs)
    except np.linalg.LinAlgError as exc:
        advice = {
            "Singular matrix": "the matrix is singular (not invertible); check for linearly "
                               "dependent rows, or use pinv / lstsq",
            "Matrix is not positive definite": "the matrix is not (numerically) positive "
                                               "definite; add a multiple of the identity "
                                               "(jitter) or check that it is symmetric",
        }.get(str(exc), str(exc))
        shapes = ", ".join(str(np.shape(a)) for a in args)
        raise InputValueError(f"linalg.{name}: {advice} (input shape {shapes})") from None


def _eye(n: int, like: Any) -> np.ndarray:
    return np.eye(n, dtype=np.result_type(raw(like)))


def _column(v: Any) -> Any:
    return v.reshape((*v.shape, 1))


def _scalar_per_matrix(g: Any) -> Any:
    """A per-matrix scalar (shape (...)) as (..., 1, 1), to scale matrices."""
    return g.reshape((*g.shape, 1, 1))


# -------------------------------------------------------------------------- inverse, solve
inv = _linalg("inv", "A⁻¹  ·  −A⁻ᵀ G A⁻ᵀ",
              lambda a: _lapack("inv", np.linalg.inv, _matrices("inv", a)),
              lambda g, out, a: -(out.mT @ g @ out.mT), saves="output",
              jvp=(lambda t, out, a: -(out @ t @ out),))


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x with A x = b (b a vector if 1-D, else (..., n, k) right-hand sides)."""
    return _lapack("solve", np.linalg.solve, _matrices("solve", a), real_input("linalg.solve", b))


def _solve_grad_b(g: Any, out: Any, a: Any, b: Any) -> Any:
    """b̄ = A⁻ᵀ G."""
    if b.ndim == 1:
        return solve(a.mT, _column(g))[..., 0]
    return solve(a.mT, g)


def _solve_grad_a(g: Any, out: Any, a: Any, b: Any) -> Any:
    """Ā = −b̄ xᵀ."""
    grad_b = _solve_grad_b(g, out, a, b)
    if b.ndim == 1:
        return -(_column(grad_b) * out.reshape((*out.shape[:-1], 1, out.shape[-1])))
    return -(grad_b @ out.mT)


def _solve_jvp_b(t: Any, out: Any, a: Any, b: Any) -> Any:
    return solve(a, t)


def _solve_jvp_a(t: Any, out: Any, a: Any, b: Any) -> Any:
    """ẋ = −A⁻¹ Ȧ x."""
    if b.ndim == 1:
        return -solve(a, t @ _column(out))[..., 0]
    return -solve(a, t @ out)


solve = _linalg("solve", "x = A⁻¹ b  ·  Ā = −A⁻ᵀ G xᵀ, b̄ = A⁻ᵀ G", _solve, _solve_grad_a,
                _solve_grad_b, saves="both", jvp=(_solve_jvp_a, _solve_jvp_b))


def _pinv(a: np.ndarray, rcond: Any = None, hermitian: bool = False) -> np.ndarray:
    """The Moore–Penrose pseudo-inverse A⁺ (np.linalg.pinv)."""
    a = _matrices("pinv", a, square=False)
    kwargs = {} if rcond is None else {"rcond": rcond}
    return _lapack("pinv", np.linalg.pinv, a, hermitian=hermitian, **kwargs)


def _pinv_grad(g: Any, out: Any, a: Any, rcond: Any = None, hermitian: bool = False) -> Any:
    """Ā = −A⁺ᵀ G A⁺ᵀ + (I − A A⁺) Gᵀ A⁺ A⁺ᵀ + A⁺ᵀ A⁺ Gᵀ (I − A⁺ A)  (constant rank)."""
    p = out
    left = _eye(a.shape[-2], a) - a @ p
    right = _eye(a.shape[-1], a) - p @ a
    return -(p.mT @ g @ p.mT) + left @ g.mT @ p @ p.mT + p.mT @ p @ g.mT @ right


def _pinv_jvp(t: Any, out: Any, a: Any, rcond: Any = None, hermitian: bool = False) -> Any:
    """dA⁺ = −A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I − AA⁺) + (I − A⁺A) dAᵀ A⁺ᵀA⁺."""
    p = out
    left = _eye(a.shape[-2], a) - a @ p
    right = _eye(a.shape[-1], a) - p @ a
    return -(p @ t @ p) + p @ p.mT @ t.mT @ left + right @ t.mT @ p.mT @ p


pinv = _linalg("pinv", "A⁺  ·  −A⁺ᵀGA⁺ᵀ + (I − AA⁺)GᵀA⁺A⁺ᵀ + A⁺ᵀA⁺Gᵀ(I − A⁺A) (rank kept)",
               _pinv, _pinv_grad, saves="both", jvp=(_pinv_jvp,))


# --------------------------------------------------------------------------- determinants
det = _linalg("det", "det A  ·  g·det A·A⁻ᵀ (A invertible)",
              lambda a: _lapack("det", np.linalg.det, _matrices("det", a)),
              lambda g, out, a: _scalar_per_matrix(g * out) * inv(a).mT, saves="both",
              jvp=(lambda t, out, a: out * (inv(a).mT * t).sum(axis=(-2, -1)),))


def _logabsdet(a: np.ndarray) -> np.ndarray:
    """log |det A| (the second result of np.linalg.slogdet)."""
    return _lapack("slogdet", np.linalg.slogdet, _matrices("slogdet", a)).logabsdet


def _logdet_grad(g: Any, out: Any, a: Any) -> Any:
    """g·A⁻ᵀ."""
    return _scalar_per_matrix(g) * inv(a).mT


def _logdet_jvp(t: Any, out: Any, a: Any) -> Any:
    """tr(A⁻¹ Ȧ)."""
    return (inv(a).mT * t).sum(axis=(-2, -1))


logabsdet = _linalg("logabsdet", "log |det A| (slogdet's logabsdet)  ·  g·A⁻ᵀ", _logabsdet,
                    _logdet_grad, saves="inputs", jvp=(_logdet_jvp,))


def _logdet(a: np.ndarray) -> np.ndarray:
    """log det A for det A > 0; −inf for det A = 0; refused for det A < 0."""
    sign, value = _lapack("logdet", np.linalg.slogdet, _matrices("logdet", a))
    if (sign < 0).any():
        where = np.argwhere(np.atleast_1d(sign < 0))[0]
        raise InputValueError(
            f"linalg.logdet: the determinant is negative (matrix {tuple(int(i) for i in where)} "
            f"of a stack of shape {np.shape(a)}), so log det is not real; use "
            "linalg.slogdet(A) for (sign, log|det A|), or check that A is positive definite")
    return np.where(sign == 0, -np.inf, value).astype(value.dtype)


logdet = _linalg("logdet", "log det A (det A > 0)  ·  g·A⁻ᵀ", _logdet, _logdet_grad,
                 saves="inputs", jvp=(_logdet_jvp,))


def slogdet(a: Any) -> SlogdetResult:
    """(sign, log|det A|) as np.linalg.slogdet: the sign is a constant (its gradient is 0
    almost everywhere), the gradient flows through logabsdet (the ``logabsdet`` op)."""
    sign = _lapack("slogdet", np.linalg.slogdet, _matrices("slogdet", raw(a))).sign
    return SlogdetResult(Tensor(sign) if isinstance(a, Tensor) else sign, logabsdet(a))


# ------------------------------------------------------------------------------- cholesky
def _cholesky(a: np.ndarray, upper: bool = False) -> np.ndarray:
    """L lower-triangular with A = L Lᵀ (U = Lᵀ if upper), from A's lower (upper) triangle."""
    return _lapack("cholesky", np.linalg.cholesky, _matrices("cholesky", a), upper=upper)


def _phi(x: Any) -> Any:
    """The lower triangle of x with its diagonal halved."""
    return tril(x) - 0.5 * (x * _eye(x.shape[-1], x))


def _read_triangle(s: Any, lower: bool) -> Any:
    """The gradient of a function that reads one triangle of A, from the gradient S for a
    symmetric A: Sᵢⱼ + Sⱼᵢ off the diagonal of the triangle read, Sᵢᵢ on it, 0 elsewhere."""
    both = s + s.mT
    half = 0.5 * (both * _eye(s.shape[-1], s))
    return (tril(both) if lower else triu(both)) - half


def _cholesky_grad(g: Any, out: Any, a: Any, upper: bool = False) -> Any:
    """S = L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Φ: lower triangle, diagonal halved), read back on the triangle."""
    lower, lower_bar = (out.mT, g.mT) if upper else (out, g)
    p = _phi(lower.mT @ lower_bar)
    s = solve(lower.mT, solve(lower.mT, p.mT).mT)
    return _read_triangle(s, lower=not upper)


def _cholesky_jvp(t: Any, out: Any, a: Any, upper: bool = False) -> Any:
    """L̇ = L Φ(L⁻¹ Ȧ L⁻ᵀ), Ȧ the symmetric matrix NumPy reads from the triangle."""
    lower = out.mT if upper else out
    keep = triu(t) if upper else tril(t)
    sym = keep + keep.mT - keep * _eye(t.shape[-1], t)
    inner = solve(lower, solve(lower, sym).mT)  # L⁻¹ Ȧ L⁻ᵀ (symmetric)
    dot = lower @ _phi(inner)
    return dot.mT if upper else dot


cholesky = _linalg("cholesky", "L with A = L Lᵀ (lower triangle read)  ·  S = L⁻ᵀΦ(LᵀL̄)L⁻¹ "
                   "read back on the triangle (Φ: lower part, diagonal halved)",
                   _cholesky, _cholesky_grad, saves="output", jvp=(_cholesky_jvp,))


# ------------------------------------------------------------------------------------ eigh
def _eigh(a: np.ndarray, UPLO: str = "L") -> np.ndarray:
    """Eigenvalues w (ascending) stacked above the eigenvectors V: shape (..., n + 1, n)."""
    if UPLO not in ("L", "U"):
        raise InputValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    w, v = _lapack("eigh", np.linalg.eigh, _matrices("eigh", a), UPLO=UPLO)
    return np.concatenate([w[..., None, :], v], axis=-2)


def _gap_factors(values: Any, name: str, what: str) -> Any:
    """F with Fᵢⱼ = 1/(vⱼ − vᵢ) off the diagonal, 0 on it; refused when two values are equal
    to rounding (the eigenvectors are then not unique and F is infinite)."""
    w = np.asarray(raw(values))
    n = w.shape[-1]
    eps = np.finfo(w.dtype if w.dtype.kind == "f" else np.float64).eps
    scale = np.abs(w).max(axis=-1, keepdims=True) if n else w
    gaps = np.where(np.eye(n, dtype=bool), np.inf, np.abs(w[..., :, None] - w[..., None, :]))
    if n > 1 and (gaps <= 10 * n * eps * np.maximum(scale[..., None], np.finfo(eps).tiny)).any():
        raise InputValueError(
            f"linalg.{name}: the {what} gradient is undefined because two {what}s are equal "
            f"(to rounding): {w.tolist() if w.size <= 12 else 'see the values'}. Their vectors "
            "are not unique. Differentiate a function of the values only, or of the subspace "
            "(e.g. V diag(w) Vᵀ = A), or perturb the input to separate the values")
    eye = _eye(n, values)
    return (1.0 - eye) / (values[..., None, :] - values[..., :, None] + eye)


def _unpack_eigh(packed: Any) -> tuple[Any, Any]:
    return getitem(packed, index=(Ellipsis, 0, slice(None))), \
        getitem(packed, index=(Ellipsis, slice(1, None), slice(None)))


def _eigh_grad(g: Any, out: Any, a: Any, UPLO: str = "L") -> Any:
    """S = V (diag(w̄) + F ∘ (Vᵀ V̄)) Vᵀ, Fᵢⱼ = 1/(wⱼ − wᵢ), read back on the triangle."""
    w, v = _unpack_eigh(out)
    w_bar, v_bar = _unpack_eigh(g)
    middle = w_bar[..., None, :] * _eye(w.shape[-1], w)
    if np.any(np.asarray(raw(v_bar)) != 0):
        middle = middle + _gap_factors(w, "eigh", "eigenvalue") * (v.mT @ v_bar)
    return _read_triangle(v @ middle @ v.mT, lower=UPLO == "L")


def _eigh_jvp(t: Any, out: Any, a: Any, UPLO: str = "L") -> Any:
    """ẇ = diag(Vᵀ Ȧ V), V̇ = V (F ∘ (Vᵀ Ȧ V)), Ȧ the symmetric matrix read from the
    triangle."""
    w, v = _unpack_eigh(out)
    keep = tril(t) if UPLO == "L" else triu(t)
    sym = keep + keep.mT - keep * _eye(t.shape[-1], t)
    rotated = v.mT @ sym @ v
    w_dot = (rotated * _eye(w.shape[-1], w)).sum(axis=-1)
    v_dot = v @ (_gap_factors(w, "eigh", "eigenvalue") * rotated)
    return ops.concatenate([w_dot[..., None, :], v_dot], axis=-2)


_eigh_op = _linalg("eigh", "(w; V) with A = V diag(w) Vᵀ, A's lower triangle read  ·  "
                   "S = V(diag(w̄) + F∘(VᵀV̄))Vᵀ, Fᵢⱼ = 1/(wⱼ − wᵢ), read back on the triangle",
                   _eigh, _eigh_grad, saves="output", jvp=(_eigh_jvp,))


def eigh(a: Any, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors (columns) of a real symmetric matrix, reading
    its lower (UPLO='L') or upper triangle. Gradients through the eigenvectors need distinct
    eigenvalues (else a clear error); through the eigenvalues alone they always exist."""
    return EighResult(*_unpack_eigh(_eigh_op(a, UPLO=UPLO)))


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of a real symmetric matrix, ascending (gradient V diag(w̄) Vᵀ)."""
    return eigh(a, UPLO).eigenvalues


# ------------------------------------------------------------------------------------- svd
def _svd_parts(m: int, n: int, full_matrices: bool) -> tuple[tuple[int, int], int,
                                                             tuple[int, int]]:
    k = min(m, n)
    return ((m, m if full_matrices else k), k, (n if full_matrices else k, n))


def _svd(a: np.ndarray, full_matrices: bool = True, compute_uv: bool = True,
         hermitian: bool = False) -> np.ndarray:
    """A = U diag(S) Vh. With compute_uv: U, S and Vh flattened and joined on the last axis."""
    a = _matrices("svd", a, square=False)
    if hermitian:
        raise InputValueError("linalg.svd: hermitian=True is not supported; for a symmetric "
                              "matrix use linalg.eigh, or call svd with hermitian=False")
    if not compute_uv:
        return _lapack("svd", np.linalg.svd, a, compute_uv=False)
    u, s, vh = _lapack("svd", np.linalg.svd, a, full_matrices=full_matrices)
    batch = a.shape[:-2]
    return np.concatenate([u.reshape((*batch, -1)), s, vh.reshape((*batch, -1))], axis=-1)


def _unpack_svd(packed: Any, m: int, n: int, full_matrices: bool) -> tuple[Any, Any, Any]:
    shape_u, k, shape_vh = _svd_parts(m, n, full_matrices)
    size_u = shape_u[0] * shape_u[1]
    batch = packed.shape[:-1]
    u = getitem(packed, index=(Ellipsis, slice(0, size_u))).reshape((*batch, *shape_u))
    s = getitem(packed, index=(Ellipsis, slice(size_u, size_u + k)))
    vh = getitem(packed, index=(Ellipsis, slice(size_u + k, None))).reshape((*batch, *shape_vh))
    return u, s, vh


def _svd_grad(g: Any, out: Any, a: Any, full_matrices: bool = True, compute_uv: bool = True,
              hermitian: bool = False) -> Any:
    """Townsend 2016: Ā = U[(F∘(UᵀŪ − ŪᵀU))S + diag(S̄) + S(F∘(VᵀV̄ − V̄ᵀV))]Vᵀ
    + (I − UUᵀ)ŪS⁻¹Vᵀ + US⁻¹V̄ᵀ(I − VVᵀ), Fᵢⱼ = 1/(sⱼ² − sᵢ²)."""
    m, n = a.shape[-2:]
    if not compute_uv:
        u, s, vh = svd(a, full_matrices=False)
        return (u * g[..., None, :]) @ vh
    u_bar, s_bar, vh_bar = _unpack_svd(g, m, n, full_matrices)
    k = min(m, n)
    vectors_used = np.any(np.asarray(raw(u_bar)) != 0) or np.any(np.asarray(raw(vh_bar)) != 0)
    if full_matrices and m != n:
        if vectors_used:
            raise InputValueError(
                f"linalg.svd: gradients through U or Vh of a non-square matrix (shape {a.shape})"
                " need full_matrices=False: the extra singular vectors are not unique")
        u, s, vh = svd(a, full_matrices=False)  # (the reduced factors, differentiable)
    else:
        u, s, vh = _unpack_svd(out, m, n, full_matrices)
    v = vh.mT
    middle = s_bar[..., None, :] * _eye(k, s)
    if not vectors_used:
        return u @ middle @ vh
    v_bar = vh_bar.mT
    f = _gap_factors(s * s, "svd", "singular value")
    ut_ub, vt_vb = u.mT @ u_bar, v.mT @ v_bar
    middle = middle + (f * (ut_ub - ut_ub.mT)) * s[..., None, :] + \
        s[..., :, None] * (f * (vt_vb - vt_vb.mT))
    grad = u @ middle @ vh
    if m != n:
        if np.any(np.asarray(raw(s)) <= np.finfo(np.result_type(raw(s))).tiny):
            raise InputValueError(f"linalg.svd: the gradient through U or Vh of a non-square "
                                  f"matrix (shape {a.shape}) needs nonzero singular values")
        inverse_s = 1.0 / s
        if m > n:
            grad = grad + (_eye(m, a) - u @ u.mT) @ (u_bar * inverse_s[..., None, :]) @ vh
        else:
            grad = grad + (u * inverse_s[..., None, :]) @ v_bar.mT @ (_eye(n, a) - v @ vh)
    return grad


def _svd_jvp(t: Any, out: Any, a: Any, full_matrices: bool = True, compute_uv: bool = True,
             hermitian: bool = False) -> Any:
    """Ṡ = diag(Uᵀ Ȧ V), U̇ = U(F∘(PS + SPᵀ)) + (I − UUᵀ)ȦVS⁻¹, V̇ = V(F∘(SP + PᵀS))
    + (I − VVᵀ)ȦᵀUS⁻¹, P = UᵀȦV (reduced factors)."""
    m, n = a.shape[-2:]
    k = min(m, n)
    if compute_uv and full_matrices and m != n:
        raise InputValueError("linalg.svd: forward mode needs full_matrices=False for a "
                              f"non-square matrix (shape {a.shape})")
    u, s, vh = (svd(a, full_matrices=False) if not compute_uv
                else _unpack_svd(out, m, n, full_matrices))
    v = vh.mT
    p = u.mT @ t @ v
    s_dot = (p * _eye(k, s)).sum(axis=-1)
    if not compute_uv:
        return s_dot
    f = _gap_factors(s * s, "svd", "singular value")
    s_row, s_col = s[..., None, :], s[..., :, None]
    u_dot = u @ (f * (p * s_row + s_col * p.mT))
    v_dot = v @ (f * (s_col * p + p.mT * s_row))
    if m > n:
        u_dot = u_dot + (_eye(m, a) - u @ u.mT) @ t @ (v / s_row)
    elif m < n:
        v_dot = v_dot + (_eye(n, a) - v @ vh) @ t.mT @ (u / s_row)
    batch = a.shape[:-2]
    return ops.concatenate([u_dot.reshape((*batch, -1)), s_dot,
                            v_dot.mT.reshape((*batch, -1))], axis=-1)


_svd_op = _linalg("svd", "(U, S, Vh) with A = U diag(S) Vh, packed  ·  Townsend 2016 (distinct "
                  "singular values for gradients through U, Vh)",
                  _svd, _svd_grad, saves="both", jvp=(_svd_jvp,))


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """A = U diag(S) Vh (np.linalg.svd): SVDResult(U, S, Vh), or S alone without compute_uv.
    Gradients through U and Vh need distinct singular values, nonzero ones for a non-square
    A, and full_matrices=False for a non-square A; through S alone they always exist."""
    packed = _svd_op(a, full_matrices=full_matrices, compute_uv=compute_uv,
                     hermitian=hermitian)
    if not compute_uv:
        return packed
    m, n = np.shape(raw(a))[-2:]
    return SVDResult(*_unpack_svd(packed, m, n, full_matrices))


# -------------------------------------------------------------------------------------- qr
def _qr(a: np.ndarray, mode: str = "reduced") -> np.ndarray:
    """A = Q R. 'reduced'/'complete': Q and R flattened and joined on the last axis; 'r': R."""
    a = _matrices("qr", a, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise InputValueError(f"linalg.qr: mode={mode!r} is not supported; use 'reduced', "
                              "'complete' or 'r' ('raw' returns Householder reflectors, which "
                              "have no gradient here)")
    if mode == "r":
        return _lapack("qr", np.linalg.qr, a, mode="r")
    q, r = _lapack("qr", np.linalg.qr, a, mode=mode)
    batch = a.shape[:-2]
    return np.concatenate([q.reshape((*batch, -1)), r.reshape((*batch, -1))], axis=-1)


def _qr_shapes(m: int, n: int, mode: str) -> tuple[tuple[int, int], tuple[int, int]]:
    k = m if mode == "complete" else min(m, n)
    return (m, k), (k, n)


def _unpack_qr(packed: Any, m: int, n: int, mode: str) -> tuple[Any, Any]:
    shape_q, shape_r = _qr_shapes(m, n, mode)
    size_q = shape_q[0] * shape_q[1]
    batch = packed.shape[:-1]
    return (getitem(packed, index=(Ellipsis, slice(0, size_q))).reshape((*batch, *shape_q)),
            getitem(packed, index=(Ellipsis, slice(size_q, None))).reshape((*batch, *shape_r)))


def _copy_lower_to_upper(x: Any) -> Any:
    lower = tril(x, -1)
    return lower + lower.mT + x * _eye(x.shape[-1], x)


def _qr_grad(g: Any, out: Any, a: Any, mode: str = "reduced") -> Any:
    """m ≥ n: M = R R̄ᵀ − Q̄ᵀ Q, Ā = (Q̄ + Q copyltu(M)) R⁻ᵀ (copyltu: M's lower triangle
    mirrored)."""
    m, n = a.shape[-2:]
    if m < n or (mode == "complete" and m != n):
        raise InputValueError(
            f"linalg.qr: gradients need a square or tall matrix in mode 'reduced' or 'r' "
            f"(got shape {a.shape}, mode {mode!r}): Q's extra columns are not unique")
    if mode == "r":
        q, r = qr(a)
        q_bar, r_bar = None, g
    else:
        q, r = _unpack_qr(out, m, n, mode)
        q_bar, r_bar = _unpack_qr(g, m, n, mode)
    product = r @ r_bar.mT if q_bar is None else r @ r_bar.mT - q_bar.mT @ q
    left = q @ _copy_lower_to_upper(product)
    if q_bar is not None:
        left = left + q_bar
    return solve(r, left.mT).mT  # (…) R⁻ᵀ


def _qr_jvp(t: Any, out: Any, a: Any, mode: str = "reduced") -> Any:
    """C = Qᵀ Ȧ R⁻¹, Ω = tril(C, −1) − tril(C, −1)ᵀ: Ṙ = (C − Ω) R, Q̇ = Ȧ R⁻¹ − Q (C − Ω)."""
    m, n = a.shape[-2:]
    if m < n or (mode == "complete" and m != n):
        raise InputValueError(f"linalg.qr: forward mode needs a square or tall matrix in mode "
                              f"'reduced' or 'r' (got shape {a.shape}, mode {mode!r})")
    q, r = qr(a) if mode == "r" else _unpack_qr(out, m, n, mode)
    t_rinv = solve(r.mT, t.mT).mT  # Ȧ R⁻¹
    c = q.mT @ t_rinv
    lower = tril(c, -1)
    omega = lower - lower.mT
    r_dot = (c - omega) @ r
    if mode == "r":
        return r_dot
    q_dot = t_rinv - q @ (c - omega)
    batch = a.shape[:-2]
    return ops.concatenate([q_dot.reshape((*batch, -1)), r_dot.reshape((*batch, -1))], axis=-1)


_qr_op = _linalg("qr", "(Q, R) with A = Q R, packed  ·  M = RR̄ᵀ − Q̄ᵀQ, Ā = (Q̄ + Q copyltu(M))"
                 "R⁻ᵀ (square or tall A)", _qr, _qr_grad, saves="both", jvp=(_qr_jvp,))


def qr(a: Any, mode: str = "reduced") -> Any:
    """A = Q R (np.linalg.qr): QRResult(Q, R), or R alone for mode='r'. Gradients for square
    and tall matrices of full column rank in modes 'reduced' and 'r' (and 'complete' when
    square)."""
    packed = _qr_op(a, mode=mode)
    if mode == "r":
        return packed
    m, n = np.shape(raw(a))[-2:]
    return QRResult(*_unpack_qr(packed, m, n, mode))


# ---------------------------------------------------------------------------- matrix_power
def _matrix_power(a: np.ndarray, n: Any) -> np.ndarray:
    """Aⁿ for an integer n (n < 0: (A⁻¹)^|n|)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise InputValueError(f"linalg.matrix_power: the exponent must be an integer, got {n!r}")
    return _lapack("matrix_power", np.linalg.matrix_power, _matrices("matrix_power", a), n)


def _matrix_power_grad(g: Any, out: Any, a: Any, n: Any) -> Any:
    """Ā for n > 0: Σₖ (Aᵀ)ᵏ G (Aᵀ)ⁿ⁻¹⁻ᵏ; n < 0: through B = A⁻¹ (Ā = −Bᵀ B̄ Bᵀ); n = 0: 0."""
    n = int(n)
    if n == 0:
        return g * 0.0
    base = a if n > 0 else inv(a)
    powers = [_eye(a.shape[-1], a)]
    for _ in range(1, abs(n)):
        powers.append(powers[-1] @ base)
    grad = powers[0].mT @ g @ powers[-1].mT
    for k in range(1, abs(n)):
        grad = grad + powers[k].mT @ g @ powers[abs(n) - 1 - k].mT
    return grad if n > 0 else -(base.mT @ grad @ base.mT)


def _matrix_power_jvp(t: Any, out: Any, a: Any, n: Any) -> Any:
    n = int(n)
    if n == 0:
        return t * 0.0
    base = a if n > 0 else inv(a)
    tangent = t if n > 0 else -(base @ t @ base)
    powers = [_eye(a.shape[-1], a)]
    for _ in range(1, abs(n)):
        powers.append(powers[-1] @ base)
    total = powers[0] @ tangent @ powers[-1]
    for k in range(1, abs(n)):
        total = total + powers[k] @ tangent @ powers[abs(n) - 1 - k]
    return total


matrix_power = _linalg("matrix_power", "Aⁿ  ·  Σₖ (Aᵀ)ᵏ G (Aᵀ)ⁿ⁻¹⁻ᵏ (n < 0 through A⁻¹)",
                       _matrix_power, _matrix_power_grad, saves="inputs", inputs=1,
                       jvp=(_matrix_power_jvp,))


# ------------------------------------------------------------------------------------ norm
def _norm_kind(x: Any, ord: Any, axis: Any) -> tuple[str, tuple[int, ...]]:
    """('vector' or 'matrix', the reduced axes), as np.linalg.norm decides."""
    ndim = np.ndim(raw(x))
    if axis is None:
        if ord is None:
            return "vector", tuple(range(ndim))
        if ndim == 1:
            return "vector", (0,)
        if ndim == 2:
            return "matrix", (0, 1)
        raise ShapeError(f"linalg.norm: ord={ord!r} with axis=None needs a 1-D or 2-D array, "
                         f"got shape {np.shape(raw(x))}; give axis=")
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    axes = tuple(ops.check_axis(a, ndim, "linalg.norm") for a in axes)
    if len(axes) == 1:
        return "vector", axes
    if len(axes) == 2 and axes[0] != axes[1]:
        return "matrix", axes
    raise InputValueError(f"linalg.norm: axis {axis!r} must name one axis (a vector norm) or "
                          "two distinct axes (a matrix norm)")


_VECTOR_ORDS = "None, 2, 1, inf, -inf, 0, or a number p"
_MATRIX_ORDS = ("fro", "nuc", 2, -2, 1, -1, np.inf, -np.inf, None)


def _norm(x: np.ndarray, ord: Any = None, axis: Any = None, keepdims: bool = False
          ) -> np.ndarray:
    """‖x‖ (np.linalg.norm): vector norms over one axis, matrix norms over two."""
    x = real_input("linalg.norm", x)
    kind, _ = _norm_kind(x, ord, axis)
    if kind == "vector" and isinstance(ord, str):
        raise InputValueError(f"linalg.norm: ord={ord!r} is a matrix norm; vector norms take "
                              f"ord = {_VECTOR_ORDS}")
    if kind == "matrix" and ord not in _MATRIX_ORDS:
        raise InputValueError(f"linalg.norm: ord={ord!r} is not a matrix norm; use one of "
                              "'fro', 'nuc', 2, -2, 1, -1, inf, -inf")
    return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)


def _safe(norms: Any) -> Any:
    """The norm, with 1 in place of 0 (the subgradient at 0 is then 0: x is 0 there)."""
    return norms + (np.asarray(raw(norms)) == 0)


def _vector_norm_direction(x: Any, norms: Any, ord: Any, axes: tuple[int, ...]) -> Any:
    """∂‖x‖/∂x for a vector norm, ``norms`` with the reduced axes kept."""
    data = np.asarray(raw(x))
    sign = np.sign(data)
    if ord is None or ord == 2:
        return x / _safe(norms)
    if ord == 1:
        return sign
    if ord == 0:
        return x * 0.0
    if ord in (np.inf, -np.inf):
        return sign * ops._tie_share(np.abs(data) == np.asarray(raw(norms)), axes)
    p = float(ord)
    if p < 1 and (data == 0).any():
        raise InputValueError(f"linalg.norm: the gradient of the {p:g}-norm is infinite at a "
                              "zero element (|x|^(p−1) with p < 1)")
    return sign * _abs(x) ** (p - 1) / _safe(norms) ** (p - 1)


def _matrix_norm_direction(x: Any, norms: Any, ord: Any, axes: tuple[int, ...]) -> Any:
    """∂‖X‖/∂X for a matrix norm over ``axes`` = (rows, columns)."""
    if ord in (None, "fro"):
        return x / _safe(norms)
    rows, cols = axes
    if ord in ("nuc", 2, -2):
        moved = moveaxis(x, (rows, cols), (-2, -1))
        u, _, vh = svd(moved, full_matrices=False)
        if ord == "nuc":
            direction = u @ vh
        else:
            pick = slice(0, 1) if ord == 2 else slice(-1, None)  # the largest or smallest
            direction = u[..., :, pick] @ vh[..., pick, :]
        return moveaxis(direction, (-2, -1), (rows, cols))
    data = np.asarray(raw(x))
    summed = cols if ord in (np.inf, -np.inf) else rows
    line_sums = np.abs(data).sum(axis=summed, keepdims=True)
    return np.sign(data) * ops._tie_share(line_sums == np.asarray(raw(norms)), axes)


def _norm_direction(x: Any, out: Any, ord: Any, axis: Any, keepdims: bool) -> Any:
    kind, axes = _norm_kind(x, ord, axis)
    norms = ops._keep_reduced(out, np.ndim(raw(x)), axes, keepdims)
    if kind == "vector":
        return _vector_norm_direction(x, norms, ord, axes), axes
    return _matrix_norm_direction(x, norms, ord, axes), axes


def _norm_grad(g: Any, out: Any, x: Any, ord: Any = None, axis: Any = None,
               keepdims: bool = False) -> Any:
    direction, axes = _norm_direction(x, out, ord, axis, keepdims)
    return ops._keep_reduced(g, np.ndim(raw(x)), axes, keepdims) * direction


def _norm_jvp(t: Any, out: Any, x: Any, ord: Any = None, axis: Any = None,
              keepdims: bool = False) -> Any:
    direction, axes = _norm_direction(x, out, ord, axis, keepdims)
    return _sum(direction * t, axis=axes, keepdims=keepdims)


norm = _linalg("norm", "‖x‖ (vector over one axis, matrix over two)  ·  g·∂‖x‖/∂x: x/‖x‖, "
               "sign x, the extreme element's sign, U Vᵀ ('nuc'), u₁v₁ᵀ (2); 0 at x = 0",
               _norm, _norm_grad, saves="both", jvp=(_norm_jvp,))


# ------------------------------------------------ numpy.linalg's array-API functions (NumPy 2)
# Compositions of the ops above and of the products and shape ops, under numpy.linalg's names.
def matrix_norm(x: Any, *, keepdims: bool = False, ord: Any = "fro") -> Any:
    """The matrix norm over the last two axes (np.linalg.matrix_norm)."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def vector_norm(x: Any, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """The vector norm over ``axis`` (None: all axes; a tuple: those axes taken as one vector),
    as np.linalg.vector_norm."""
    ndim = np.ndim(raw(x))
    axes = ops._axes(axis, ndim, "linalg.vector_norm")
    if len(axes) == 1:
        return norm(x, ord=ord, axis=axes[0], keepdims=keepdims)
    shape = np.shape(raw(x))
    moved = moveaxis(x, axes, tuple(range(-len(axes), 0)))
    rest = tuple(n for d, n in enumerate(shape) if d not in axes)
    result = norm(moved.reshape((*rest, -1)), ord=ord, axis=-1)
    if keepdims:
        return result.reshape(tuple(1 if d in axes else n for d, n in enumerate(shape)))
    return result


def svdvals(x: Any) -> Any:
    """The singular values, descending (np.linalg.svdvals): gradient U diag(S̄) Vᵀ."""
    return svd(x, compute_uv=False)


def multi_dot(arrays: Any) -> Any:
    """A₁ A₂ … Aₖ (np.linalg.multi_dot; 1-D first and last arrays as row and column
    vectors), multiplied left to right."""
    arrays = list(arrays)
    if len(arrays) < 2:
        raise InputValueError("linalg.multi_dot: needs at least two arrays")
    result = arrays[0]
    for a in arrays[1:]:
        result = products.dot(result, a)
    return result


def matrix_transpose(x: Any) -> Any:
    """The last two axes swapped (np.linalg.matrix_transpose)."""
    return swapaxes(x, -1, -2)


def vecdot(x1: Any, x2: Any, *, axis: int = -1) -> Any:
    """Σ x₁ x₂ over ``axis``, broadcasting the others (np.linalg.vecdot)."""
    return _sum(x1 * x2, axis=axis)


def outer(x1: Any, x2: Any) -> Any:
    """x₁ x₂ᵀ of two vectors (np.linalg.outer)."""
    if np.ndim(raw(x1)) != 1 or np.ndim(raw(x2)) != 1:
        raise ShapeError("linalg.outer: needs two 1-D arrays; use al.outer to flatten others")
    return products.outer(x1, x2)


def cross(x1: Any, x2: Any, *, axis: int = -1) -> Any:
    """x₁ × x₂ of 3-vectors along ``axis`` (np.linalg.cross)."""
    return products.cross(x1, x2, axis=axis)


def matmul(x1: Any, x2: Any) -> Any:
    """x₁ @ x₂ (np.linalg.matmul)."""
    return ops.matmul(x1, x2)


def tensordot(x1: Any, x2: Any, *, axes: Any = 2) -> Any:
    """Σ over paired axes of x₁ ⊗ x₂ (np.linalg.tensordot)."""
    return products.tensordot(x1, x2, axes=axes)


def diagonal(x: Any, *, offset: int = 0) -> Any:
    """The diagonals of the matrices in the last two axes (np.linalg.diagonal)."""
    return shapes.diagonal(x, offset, -2, -1)


def trace(x: Any, *, offset: int = 0, dtype: Any = None) -> Any:
    """Σ of the diagonals of the matrices in the last two axes (np.linalg.trace)."""
    if dtype is not None:
        raise SignatureError("linalg.trace: dtype= is not supported; cast with .astype(...)")
    return _sum(diagonal(x, offset=offset), axis=-1)


# --------------------------------------------------------------------------- refused names
def _refused(name: str, why: str) -> Any:
    def function(*args: Any, **kwargs: Any) -> Any:
        raise SignatureError(f"linalg.{name} is not supported: {why}")
    function.__name__ = name
    function.__doc__ = f"Not supported: {why}"
    return function


eig = _refused("eig", "a general (non-symmetric) matrix may have complex eigenvalues, and "
               "complex numbers are out of scope; for a symmetric matrix use linalg.eigh")
eigvals = _refused("eigvals", "complex eigenvalues are out of scope; for a symmetric matrix "
                   "use linalg.eigvalsh")

__all__ = ["EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "cross", "det",
           "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "logabsdet", "logdet",
           "matmul", "matrix_norm", "matrix_power", "matrix_transpose", "multi_dot", "norm",
           "outer", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "trace",
           "vecdot", "vector_norm"]
