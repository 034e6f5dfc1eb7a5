//go:build cuda || cudaemu

package cuda

import "strings"

// bf16Peaks are dense bf16 tensor-core peaks (FLOP/s) of the cards this backend expects,
// matched against the device name in order (the first fragment found wins).
var bf16Peaks = []struct {
	fragment string
	flops    float64
}{
	{"H200", 989.5e12},
	{"H100 PCIe", 756e12},
	{"H100 NVL", 835e12},
	{"H100", 989.5e12}, // SXM: "NVIDIA H100 80GB HBM3"
	{"GH200", 989.5e12},
	{"A100", 312e12},
	{"L40S", 362e12},
	{"A10G", 70e12},
	{"RTX 4090", 165e12},
}

// PeakFLOPS is the card's dense bf16 peak, the denominator the original uses for MFU (989.5
// TFLOP/s on an H100), so MFU figures compare with the reference's whatever precision this
// backend's GEMMs run in; 0 for a card not in the table (MFU unknown).
func (b *Backend) PeakFLOPS() float64 { return peakFor(b.drv.deviceName()) }

func peakFor(name string) float64 {
	for _, p := range bf16Peaks {
		if strings.Contains(name, p.fragment) {
			return p.flops
		}
	}
	return 0
}
