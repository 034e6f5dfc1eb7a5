//go:build cuda || cudaemu

package cuda

// deviceDriver is what the backend asks of the layer below it: driver_cuda.go on a GPU,
// driver_emu.go on the emulator, and in the tests a driver that records launches without
// memory (audit_test.go).
type deviceDriver interface {
	String() string     // the device, for Describe
	deviceName() string // the device's name, for the peak FLOP/s table
	close()
	malloc(n int64) (devptr, error)
	free(p devptr)
	upload(dst devptr, src []byte) error
	download(dst []byte, src devptr) error
	loadKernels() (map[string]kfunc, error)
	maxDynamicSmem() int // bytes of dynamic shared memory a block may use
	launch(k kfunc, grid [3]int, block, smem int, a *kargs) error
	gemm(c *gemmCall) error
	sync() error
	computeCapability() int // 10*major + minor
	newEvent() (event, error)
	record(e event) error
	elapsed(a, b event) (float64, error) // milliseconds from event a to event b
}
