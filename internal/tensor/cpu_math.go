package tensor

import "math"

// Transcendentals over slices. float64 goes through package math (the
// gradient checks need its accuracy); float32 uses a polynomial exp about
// five times faster than math.Exp and within 2 ulp of it, since exp is the
// inner loop of softmax, cross-entropy, sigmoid and tanh.

// exp32 is Cephes' expf: e^x = 2^n * e^r with |r| <= ln2/2 and a degree-6
// polynomial for e^r.
func exp32(x float32) float32 {
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	if x > 88.72283 {
		return float32(math.Inf(1))
	}
	if x < -87.33654 {
		if x != x {
			return x
		}
		return 0
	}
	fn := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - fn*c1 - fn*c2
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	if fn > 127 { // 2^128 is not a float32: scale in two steps
		return p * 2 * math.Float32frombits(uint32(int32(fn)+126)<<23)
	}
	return p * math.Float32frombits(uint32(int32(fn)+127)<<23)
}

// exp32Slice sets d = e^s elementwise (d may be s); amd64 with AVX-512
// replaces it with a 16-lane version.
var exp32Slice = func(d, s []float32) {
	d = d[:len(s)]
	for i, v := range s {
		d[i] = exp32(v)
	}
}

func expSlice[T float](d, s []T) {
	if d32, ok := any(d).([]float32); ok {
		exp32Slice(d32, any(s).([]float32))
		return
	}
	for i, v := range s {
		d[i] = T(math.Exp(float64(v)))
	}
}

func sigmoidSlice[T float](d, s []T) {
	if d32, ok := any(d).([]float32); ok {
		s32 := any(s).([]float32)
		for i, v := range s32 {
			d32[i] = -v
		}
		exp32Slice(d32, d32[:len(s32)])
		for i, e := range d32[:len(s32)] {
			d32[i] = 1 / (1 + e)
		}
		return
	}
	for i, v := range s {
		d[i] = T(1 / (1 + math.Exp(-float64(v))))
	}
}

// tanhSlice sets d = c*tanh(s/c) (c = 1 is plain tanh).
func tanhSlice[T float](d, s []T, c T) {
	if d32, ok := any(d).([]float32); ok {
		tanh32Slice(d32, any(s).([]float32), float32(c))
		return
	}
	for i, v := range s {
		d[i] = c * T(math.Tanh(float64(v/c)))
	}
}

// tanh32Slice sets d = c*tanh(s/c); amd64 with AVX-512 replaces it.
var tanh32Slice = tanh32Go

// tanh32Go: tanh(z) = sign(z) * (1 - 2/(e^{2|z|} + 1)), with the exps
// done a chunk at a time by the vector exp.
func tanh32Go(d, s []float32, c float32) {
	var e [256]float32
	inv := 1 / c
	for len(s) > 0 {
		n := min(len(s), len(e))
		for i, v := range s[:n] {
			z := v * inv
			if z < 0 {
				z = -z
			}
			e[i] = 2 * z
		}
		exp32Slice(e[:n], e[:n])
		for i, v := range s[:n] {
			t := 1 - 2/(e[i]+1)
			if v < 0 {
				t = -t
			}
			d[i] = c * t
		}
		s, d = s[n:], d[n:]
	}
}
