package main

import (
	"math/rand/v2"
	"testing"

	"autoresearch/harness"
	"autoresearch/internal/tensor"
)

// BenchmarkTrainStep times one optimizer step of the baseline (every
// micro-step's forward and backward, then MuonAdamW) at each small profile's
// sizes, on random tokens. tok/s and mfu_% are what the progress line would
// show; the MFU is against dev.PeakFLOPS, the GEMM micro-kernel's measured
// ceiling. For the share of time in GEMM, profile it:
//
//	go test -run '^$' -bench TrainStep/cpu -benchtime 5x -cpuprofile cpu.out ./gpt/baseline/
//	go tool pprof -top cpu.out
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"smoke", "cpu"} {
		b.Run(name, func(b *testing.B) {
			p, err := harness.LookupProfile(name)
			if err != nil {
				b.Fatal(err)
			}
			dev, err := tensor.Open("cpu")
			if err != nil {
				b.Fatal(err)
			}
			depth, total, rows := profileScale(p.Name)
			model, err := NewGPT(dev, buildModelConfig(depth, p.MaxSeqLen, p.VocabSize), tensor.NewRNG(42))
			if err != nil {
				b.Fatal(err)
			}
			opt, err := model.SetupOptimizer(UNEMBEDDING_LR, EMBEDDING_LR, MATRIX_LR, WEIGHT_DECAY, [2]float64{ADAM_BETA1, ADAM_BETA2}, SCALAR_LR)
			if err != nil {
				b.Fatal(err)
			}
			accum := total / (rows * p.MaxSeqLen)
			r := rand.New(rand.NewPCG(1, 2))
			tokens := make([]int32, rows*(p.MaxSeqLen+1))
			for i := range tokens {
				tokens[i] = int32(r.IntN(p.VocabSize))
			}
			x, y := shiftedBatch(tokens, rows, p.MaxSeqLen)
			// The FLOPs per token as the program counts them, from one micro-step's graph.
			flops := dev.Inspect(func() *tensor.Tensor {
				return model.Forward(dev.FromInt32s(x, rows, p.MaxSeqLen), dev.FromInt32s(y, rows, p.MaxSeqLen), "mean")
			}).FLOPs / float64(rows*p.MaxSeqLen)
			// The training loop's step, as train.go takes it.
			step := func() {
				dev.Step(func() (trainLoss *tensor.Tensor) {
					for range accum {
						xt, yt := dev.FromInt32s(x, rows, p.MaxSeqLen), dev.FromInt32s(y, rows, p.MaxSeqLen)
						loss := model.Forward(xt, yt, "mean")
						trainLoss = loss.Detach()
						loss.MulScalar(1 / float32(accum)).Backward()
					}
					opt.Step()
					dev.ZeroGrad()
					return trainLoss
				})
			}
			step() // optimizer state and buffer pool warm
			b.ResetTimer()
			for range b.N {
				step()
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(total)/sec, "tok/s")
			b.ReportMetric(100*flops*float64(total)/sec/dev.PeakFLOPS(), "mfu_%")
		})
	}
}

// shiftedBatch cuts rows of T+1 tokens into inputs and next-token targets.
func shiftedBatch(tokens []int32, rows, T int) (x, y []int32) {
	x, y = make([]int32, rows*T), make([]int32, rows*T)
	for r := range rows {
		copy(x[r*T:], tokens[r*(T+1):r*(T+1)+T])
		copy(y[r*T:], tokens[r*(T+1)+1:(r+1)*(T+1)])
	}
	return x, y
}
