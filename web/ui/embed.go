// Package ui holds the web console's built bundle (dist/, made by `make ui`
// from the TypeScript under src/ and committed), so that `go build` and
// `go install` need no Node.
package ui

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Assets is the built console: index.html at the root, content-hashed files
// under assets/.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern above names dist; it is always there
	}
	return sub
}
