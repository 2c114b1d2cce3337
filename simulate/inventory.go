package simulate

import (
	"slices"
	"sync"

	"github.com/meshlens/meshlens/inventory"
)

// Inventory is what the simulated mesh runs, as a console's inventory: its
// manifests, with every workload's one pod available unless a fault has
// taken it down. A fault's change shows in the next snapshot.
type Inventory struct {
	runner  Runner
	objects []*inventory.Object

	mu      sync.Mutex
	version uint64
	snap    *inventory.Snapshot
}

// NewInventory reads the runner's manifests; what does not load is in the
// errors (the manifests are the simulator's own: a bug).
func NewInventory(r Runner) (*Inventory, []*inventory.LoadError) {
	objects, errs := inventory.Parse("simulated mesh", r.Mesh().Manifests())
	return &Inventory{runner: r, objects: objects}, errs
}

// Snapshot implements inventory.Source; it is rebuilt only when the faults
// changed.
func (i *Inventory) Snapshot() *inventory.Snapshot {
	i.mu.Lock()
	defer i.mu.Unlock()
	faults := i.runner.Faults()
	if v := faults.Version(); i.snap == nil || v != i.version {
		snap := inventory.NewSnapshot(slices.Clone(i.objects))
		for _, w := range i.runner.Mesh().Workloads {
			available := int32(1)
			if faults.For(w).Down {
				available = 0
			}
			snap.SetAvailable(w.Namespace, w.Name, available)
		}
		i.snap, i.version = snap, v
	}
	return i.snap
}
