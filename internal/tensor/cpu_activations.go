package tensor

import "math"

// The smooth activations of the MLP (GELU, SiLU, Softplus, Mish) on the
// CPU: one pass each, forward and backward, the derivative recomputed from
// x. float32 takes the vector exp and tanh where the formula allows;
// float64 (the gradient checks) goes through package math.

const (
	sqrt2OverPi = 0.7978845608028654 // √(2/π)
	geluCoef    = 0.044715
	invSqrt2    = 0.7071067811865476 // 1/√2
	invSqrt2Pi  = 0.3989422804014327 // 1/√(2π)
)

// softplus64 is ln(1+e^x), x itself above 20 as in PyTorch (the difference
// is below float32's resolution there).
func softplus64(x float64) float64 {
	if x > 20 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// geluTanhGrad is the derivative of the tanh GELU given x and t = tanh u:
// (1+t)/2 + x/2*(1-t²)*√(2/π)*(1+3*0.044715x²).
func geluTanhGrad(x, t float64) float64 {
	return 0.5*(1+t) + 0.5*x*(1-t*t)*sqrt2OverPi*(1+3*geluCoef*x*x)
}

func activation[T float](op UnaryOp, d, s []T) {
	if d32, ok := any(d).([]float32); ok {
		activation32(op, d32, any(s).([]float32), nil)
		return
	}
	for i, v := range s {
		x := float64(v)
		var y float64
		switch op {
		case GELU:
			y = 0.5 * x * (1 + math.Erf(x*invSqrt2))
		case GELUTanh:
			y = 0.5 * x * (1 + math.Tanh(sqrt2OverPi*(x+geluCoef*x*x*x)))
		case SiLU:
			y = x * sigmoid64(x)
		case Softplus:
			y = softplus64(x)
		case Mish:
			y = x * math.Tanh(softplus64(x))
		}
		d[i] = T(y)
	}
}

// activationGrad sets d = g * f'(x).
func activationGrad[T float](op UnaryOp, d, g, xs []T) {
	if d32, ok := any(d).([]float32); ok {
		activation32(op, d32, any(xs).([]float32), any(g).([]float32))
		return
	}
	for i, v := range xs {
		x := float64(v)
		var df float64
		switch op {
		case GELU:
			df = 0.5*(1+math.Erf(x*invSqrt2)) + x*invSqrt2Pi*math.Exp(-0.5*x*x)
		case GELUTanh:
			df = geluTanhGrad(x, math.Tanh(sqrt2OverPi*(x+geluCoef*x*x*x)))
		case SiLU:
			s := sigmoid64(x)
			df = s * (1 + x*(1-s))
		case Softplus:
			df = sigmoid64(x)
		case Mish:
			t := math.Tanh(softplus64(x))
			df = t + x*(1-t*t)*sigmoid64(x)
		}
		d[i] = g[i] * T(df)
	}
}

// activation32 is the float32 forward (g nil: d = f(s)) or backward
// (d = g*f'(s)), a chunk at a time, the transcendentals through the vector
// exp and tanh: the MLP's activation must not cost more than the small ops
// it replaces. d may be s or g.
func activation32(op UnaryOp, d, s, g []float32) {
	var u, w [256]float32
	for len(s) > 0 {
		n := min(len(s), len(u))
		x := s[:n]
		switch op {
		case GELUTanh:
			for i, v := range x {
				u[i] = sqrt2OverPi * (v + geluCoef*v*v*v)
			}
			tanh32Slice(u[:n], u[:n], 1)
			if g == nil {
				for i, v := range x {
					d[i] = 0.5 * v * (1 + u[i])
				}
			} else {
				for i, v := range x {
					t := u[i]
					d[i] = g[i] * (0.5*(1+t) + 0.5*v*(1-t*t)*sqrt2OverPi*(1+3*geluCoef*v*v))
				}
			}
		case GELU:
			erfc32(u[:n], w[:n], x)
			if g == nil {
				for i, v := range x {
					d[i] = v * u[i]
				}
			} else {
				for i, v := range x {
					w[i] = -0.5 * v * v
				}
				exp32Slice(w[:n], w[:n])
				for i, v := range x {
					d[i] = g[i] * (u[i] + v*invSqrt2Pi*w[i])
				}
			}
		case SiLU:
			sigmoidSlice(u[:n], x)
			if g == nil {
				for i, v := range x {
					d[i] = v * u[i]
				}
			} else {
				for i, v := range x {
					d[i] = g[i] * u[i] * (1 + v*(1-u[i]))
				}
			}
		case Softplus:
			if g != nil {
				sigmoidSlice(u[:n], x)
				for i := range x {
					d[i] = g[i] * u[i]
				}
				break
			}
			// softplus(x) = max(x, 0) + log1p(e^-|x|)
			for i, v := range x {
				u[i] = -abs32(v)
			}
			exp32Slice(u[:n], u[:n])
			for i, v := range x {
				d[i] = max(v, 0) + log1pUnit(u[i])
			}
		case Mish:
			// With e = e^x: tanh(softplus(x)) = e(e+2)/(e(e+2)+2), σ(x) = e/(1+e).
			for i, v := range x {
				u[i] = min(v, 20)
			}
			exp32Slice(u[:n], u[:n])
			for i, v := range x {
				e := u[i]
				p := e * (e + 2)
				t := p / (p + 2)
				if v > 20 {
					t = 1
				}
				if g == nil {
					d[i] = v * t
				} else {
					d[i] = g[i] * (t + v*(1-t*t)*e/(1+e))
				}
			}
		}
		s, d = s[n:], d[n:]
		if g != nil {
			g = g[n:]
		}
	}
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

// log1pUnit is ln(1+e) for e in [0, 1]: 2·atanh(s) with s = e/(2+e) <= 1/3,
// whose odd series converges to float32 precision in eight terms.
func log1pUnit(e float32) float32 {
	s := e / (2 + e)
	z := s * s
	p := float32(1.0 / 17)
	for _, c := range [...]float32{1.0 / 15, 1.0 / 13, 1.0 / 11, 1.0 / 9, 1.0 / 7, 1.0 / 5, 1.0 / 3, 1} {
		p = p*z + c
	}
	return 2 * s * p
}

// erfc32 sets phi = Φ(x), the normal CDF, from erfc(|x|/√2) by Numerical
// Recipes' Chebyshev fit (relative error below 1.2e-7 everywhere, so the
// GELU's tail keeps its precision); tmp is scratch of len(x).
func erfc32(phi, tmp, x []float32) {
	for i, v := range x {
		z := abs32(v) * invSqrt2
		t := 1 / (1 + 0.5*z)
		p := t*(t*(t*(t*(t*(t*(t*(t*(t*0.17087277-0.82215223)+1.48851587)-1.13520398)+0.27886807)-0.18628806)+0.09678418)+0.37409196)+1.00002368) - 1.26551223
		tmp[i] = -z*z + p
		phi[i] = t
	}
	exp32Slice(tmp, tmp)
	for i, v := range x {
		e := 0.5 * phi[i] * tmp[i] // erfc(z)/2
		if v >= 0 {
			e = 1 - e
		}
		phi[i] = e
	}
}
