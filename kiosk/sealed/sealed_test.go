package sealed

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestRecordsAreEncryptedAtRestAndPurged(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"name":"张三","idNumber":"110101199001010015","address":"北京市东城区"}`)
	if err := s.Put("A1", secret); err != nil {
		t.Fatal(err)
	}
	s.Close()

	raw, _ := os.ReadFile(filepath.Join(dir, "sealed.db"))
	for _, leak := range [][]byte{[]byte("110101199001010015"), []byte("张三"), []byte("idNumber")} {
		if bytes.Contains(raw, leak) {
			t.Fatalf("%q is readable in the file", leak)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, "sealed.key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}

	s, err = Open(dir) // the same device key after a restart
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("A1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("get after reopen: %q %v", got, err)
	}
	if ids, _ := s.IDs(); len(ids) != 1 {
		t.Fatalf("ids %v", ids)
	}
	if err := s.Purge("A1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("A1"); err != ErrNotFound {
		t.Fatalf("after purge: %v", err)
	}
	s.Close()

	// Without the device's key the records cannot be read.
	os.WriteFile(filepath.Join(dir, "sealed.key"), bytes.Repeat([]byte{7}, 32), 0o600)
	s, _ = Open(dir)
	s.Put("B", secret)
	s.Close()
	os.Remove(filepath.Join(dir, "sealed.key"))
	s, _ = Open(dir) // a new key is made; the old record is unreadable
	defer s.Close()
	if _, err := s.Get("B"); err == nil {
		t.Fatal("a record opened with the wrong key")
	}
}
