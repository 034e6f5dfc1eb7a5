//go:build cuda || cudaemu

package cuda

import (
	"fmt"
	"testing"

	"autoresearch/internal/tensor"
)

// Parity of the kernels of layers.cu and of the smooth activations, against the CPU backend
// on the same random inputs; the errors join TestMain's table.

func TestParityActivations(t *testing.T) {
	r := rng(t)
	const n = 3001
	for _, d := range dtypes {
		for _, op := range []tensor.UnaryOp{tensor.GELU, tensor.GELUTanh, tensor.SiLU, tensor.Softplus, tensor.Mish} {
			v := randn(r, n, 3)
			v[0], v[1] = 25, -25 // beyond softplus's threshold both ways
			x := put(t, d.dt, v)
			y, dy, dx := nan(t, d.dt, n), put(t, d.dt, randn(r, n, 1)), nan(t, d.dt, n)
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.Unary(op, s(y), s(x), n, 0, 0)
				be.UnaryBackward(op, s(dx), s(dy), s(x), s(y), n, 0, 0)
			})
			check(t, fmt.Sprintf("%s %v forward", op, d.dt), y, max(d.tol, 2e-6))
			check(t, fmt.Sprintf("%s %v backward", op, d.dt), dx, max(d.tol, 2e-6))
		}
	}
}

func TestParityLayerNorm(t *testing.T) {
	r := rng(t)
	for _, d := range dtypes {
		for _, c := range []struct {
			name         string
			c            int
			center, w, b bool
		}{
			{"layer_norm C=96", 96, true, true, true}, {"layer_norm C=7 no affine", 7, true, false, false},
			{"rms_norm_weight C=300", 300, false, true, false},
		} {
			const n = 70 // two row chunks of the parameter gradients; C=300 two column tiles
			x, dy := put(t, d.dt, randn(r, n*c.c, 2)), put(t, d.dt, randn(r, n*c.c, 1))
			out, mean, rstd, dx := nan(t, d.dt, n*c.c), nan(t, tensor.F32, n), nan(t, tensor.F32, n), nan(t, d.dt, n*c.c)
			opt := func(p pair, on bool) func(func(pair) tensor.Buffer) tensor.Buffer {
				return func(s func(pair) tensor.Buffer) tensor.Buffer {
					if !on {
						return nil
					}
					return s(p)
				}
			}
			w, b := put32(t, uniform(r, c.c, 0.5, 1.5)), put32(t, randn(r, c.c, 0.3))
			dw, db := nan(t, tensor.F32, c.c), nan(t, tensor.F32, c.c)
			ow, ob, odb := opt(w, c.w), opt(b, c.b), opt(db, c.center)
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.LayerNorm(s(out), s(mean), s(rstd), s(x), ow(s), ob(s), n, c.c, 1e-5, c.center)
				be.LayerNormBackward(s(dx), s(dw), odb(s), s(dy), s(x), s(mean), s(rstd), ow(s), n, c.c, c.center)
			})
			check(t, fmt.Sprintf("%s forward %v", c.name, d.dt), out, d.tol)
			check(t, fmt.Sprintf("%s rstd %v", c.name, d.dt), rstd, tolSum)
			check(t, fmt.Sprintf("%s backward %v", c.name, d.dt), dx, max(d.tol, tolSum))
			check(t, fmt.Sprintf("%s dweight %v", c.name, d.dt), dw, max(d.tol, tolSum))
			if c.center {
				check(t, fmt.Sprintf("%s mean %v", c.name, d.dt), mean, tolSum)
				check(t, fmt.Sprintf("%s dbias %v", c.name, d.dt), db, max(d.tol, tolSum))
			}
		}
	}
}

func TestParityDropout(t *testing.T) {
	r := rng(t)
	const n = 5000
	for _, d := range dtypes {
		x, y := put(t, d.dt, randn(r, n, 1)), nan(t, d.dt, n)
		seed := r.Uint64()
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Dropout(s(y), s(x), n, 0.3, seed) })
		// The same mask on both devices: f32 results are identical.
		tol := 0.0
		if d.dt == tensor.BF16 {
			tol = tolBF16
		}
		check(t, "p=0.3 "+d.dt.String(), y, tol)
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.Dropout(s(x), s(x), n, 0.1, seed+1) })
		check(t, "in place "+d.dt.String(), x, tol)
	}
}

func TestParityCrossEntropyOpts(t *testing.T) {
	r := rng(t)
	const n, v = 10, 300
	targets := make([]int32, n)
	for i := range targets {
		targets[i] = int32(r.IntN(v))
	}
	targets[3] = -1 // ignored
	for _, d := range dtypes {
		for _, softcap := range []float32{0, 15} {
			logits, tg := put(t, d.dt, randn(r, n*v, 3)), putInts(t, targets)
			losses, lse := nan(t, tensor.F32, n), nan(t, tensor.F32, n)
			dlosses, dlogits := put32(t, uniform(r, n, 0.5, 1.5)), nan(t, d.dt, n*v)
			// With a softcap the forward sees the capped logits (f32: the CPU cannot hold bf16),
			// the backward the raw ones.
			capped := logits
			if softcap > 0 {
				capped = nan(t, tensor.F32, n*v)
				both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
					if be == tensor.Backend(gpu) && d.dt == tensor.BF16 {
						c32 := gpu.Alloc(tensor.F32, n*v)
						gpu.Copy([]int{n * v}, c32, 0, []int{1}, s(logits), 0, []int{1}, false)
						gpu.Unary(tensor.Softcap, s(capped), c32, n*v, softcap, 0)
						gpu.Free(c32)
					} else {
						be.Unary(tensor.Softcap, s(capped), s(logits), n*v, softcap, 0)
					}
				})
			}
			both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
				be.CrossEntropyOpts(s(losses), s(lse), s(capped), s(tg), n, v, 0.1, 1e-3)
				be.CrossEntropyOptsBackward(s(dlogits), s(dlosses), s(logits), s(lse), s(tg), n, v, softcap, 0.1, 1e-3)
			})
			name := fmt.Sprintf("softcap=%g %v", softcap, d.dt)
			check(t, "losses "+name, losses, tolSum)
			check(t, "lse "+name, lse, tolSum)
			check(t, "backward "+name, dlogits, d.tol)
		}
	}
}

func TestParityTopKGatherScatter(t *testing.T) {
	r := rng(t)
	const n, c, k = 33, 40, 5
	for _, d := range dtypes {
		v := randn(r, n*c, 1)
		v[7] = v[3] // a tie within row 0
		x := put(t, d.dt, v)
		idx := putInts(t, make([]int32, n*k))
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.TopK(s(idx), s(x), n, c, k) })
		// Indices compare exactly through their values: the gathered ones.
		vals, src, dst := nan(t, d.dt, n*k), put(t, d.dt, randn(r, n*k, 1)), put(t, d.dt, randn(r, n*c, 1))
		both(func(be tensor.Backend, s func(pair) tensor.Buffer) {
			be.Gather(s(vals), s(x), s(idx), n, c, k)
			be.ScatterAdd(s(dst), s(src), s(idx), n, c, k)
		})
		gi, ci := idx.read()
		for i := range gi {
			if gi[i] != ci[i] {
				t.Fatalf("topk %v: index %d is %g on the GPU, %g on the CPU", d.dt, i, gi[i], ci[i])
			}
		}
		check(t, "topk indices "+d.dt.String(), idx, 0)
		check(t, "gather "+d.dt.String(), vals, 0)
		check(t, "scatter_add "+d.dt.String(), dst, d.tol)
	}
	// Repeated indices: the scatter's atomics add them all.
	ids := make([]int32, n*k)
	for i := range ids {
		ids[i] = int32(r.IntN(3))
	}
	idx, src, dst := putInts(t, ids), put32(t, randn(r, n*k, 1)), put32(t, randn(r, n*c, 1))
	both(func(be tensor.Backend, s func(pair) tensor.Buffer) { be.ScatterAdd(s(dst), s(src), s(idx), n, c, k) })
	check(t, "scatter_add repeated f32", dst, tolF32)
}
