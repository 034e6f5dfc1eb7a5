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
	if d32, ok := any(d).([]float32); ok && (op == GELUTanh || op == SiLU) {
		activation32(op, d32, any(s).([]float32))
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

// activation32 runs the tanh GELU and SiLU a chunk at a time through the
// vector tanh and sigmoid (d may be s).
func activation32(op UnaryOp, d, s []float32) {
	var u [256]float32
	for len(s) > 0 {
		n := min(len(s), len(u))
		x := s[:n]
		if op == GELUTanh {
			for i, v := range x {
				u[i] = sqrt2OverPi * (v + geluCoef*v*v*v)
			}
			tanh32Slice(u[:n], u[:n], 1)
			for i, v := range x {
				d[i] = 0.5 * v * (1 + u[i])
			}
		} else {
			sigmoidSlice(u[:n], x)
			for i, v := range x {
				d[i] = v * u[i]
			}
		}
		s, d = s[n:], d[n:]
	}
}

// activationGrad sets d = g * f'(x).
func activationGrad[T float](op UnaryOp, d, g, xs []T) {
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
