// Package testkit holds the helpers that the tests of several packages
// share. Only tests import it.
package testkit

import (
	"strings"
	"sync"
	"testing"

	"github.com/fleetscan/fleetscan/scanner/catalog"
)

var embedded = sync.OnceValues(catalog.Embedded)

// Catalog is the embedded catalog, loaded once per test binary; a load
// error fails the test.
func Catalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := embedded()
	if err != nil {
		t.Fatalf("catalog.Embedded(): %v", err)
	}
	return cat
}

// ErrText is err's message, "" for nil. protobuf-go deliberately prints its
// "proto:" prefix with either a regular or a non-breaking space depending on
// the binary; both read as a regular space.
func ErrText(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), "\u00a0", " ")
}
