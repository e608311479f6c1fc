package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// eSSP (brief §3b): after a Diffie-Hellman exchange (SET_GENERATOR,
// SET_MODULUS, REQUEST_KEY_EXCHANGE with 64-bit little-endian values) both
// sides use AES-128 with key = fixed 64-bit key (LE) ‖ negotiated 64-bit
// key (LE). An encrypted frame's DATA is STEX(7E) followed by
// AES-128-ECB(eLENGTH eCOUNT(4 LE) eDATA ePACKING eCRCL eCRCH), padded
// with random bytes to a multiple of 16; eCRC is CRC16 over
// eLENGTH..ePACKING. A slave's reply must carry the host's count + 1.

// STEX marks an encrypted DATA field.
const STEX = 0x7E

// DefaultFixedKey is the factory fixed key 0123456701234567; on the wire
// and in the AES key it appears byte-swapped, 67 45 23 01 67 45 23 01.
const DefaultFixedKey uint64 = 0x0123456701234567

// MaxSealed is the most eDATA one frame can carry: DATA ≤ 255 bytes is
// STEX + at most 15 AES blocks, less eLENGTH, eCOUNT and eCRC.
const MaxSealed = 15*aes.BlockSize - 7

// Encryption errors.
var (
	ErrNotEncrypted = errors.New("essp: data does not start with STEX")
	ErrCipherLength = errors.New("essp: encrypted part is not whole AES blocks")
	ErrECRC         = errors.New("essp: bad inner crc")
	ErrELength      = errors.New("essp: eLENGTH larger than the packet")
	ErrCount        = errors.New("essp: encrypted counter mismatch")
)

// Key is an eSSP AES-128 key. It is safe for concurrent use.
type Key struct {
	raw   [16]byte
	block cipher.Block
}

// NewKey builds the AES key from the fixed and the negotiated key.
func NewKey(fixed, negotiated uint64) *Key {
	k := &Key{}
	binary.LittleEndian.PutUint64(k.raw[:8], fixed)
	binary.LittleEndian.PutUint64(k.raw[8:], negotiated)
	b, err := aes.NewCipher(k.raw[:])
	if err != nil {
		panic(err) // unreachable: 16 bytes is always a valid AES key size
	}
	k.block = b
	return k
}

// Bytes is the 16-byte AES key.
func (k *Key) Bytes() [16]byte { return k.raw }

// Seal returns the DATA of an encrypted frame carrying data with counter
// count. fill supplies the packing bytes (random on the wire); nil packs
// with zeros.
func (k *Key) Seal(count uint32, data []byte, fill func([]byte)) ([]byte, error) {
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if len(data) > MaxSealed {
		return nil, fmt.Errorf("%w: %d bytes to encrypt, max %d", ErrTooLong, len(data), MaxSealed)
	}
	n := 1 + 4 + len(data) + 2
	total := (n + aes.BlockSize - 1) / aes.BlockSize * aes.BlockSize
	plain := make([]byte, total)
	plain[0] = byte(len(data))
	binary.LittleEndian.PutUint32(plain[1:5], count)
	copy(plain[5:], data)
	if pack := plain[5+len(data) : total-2]; fill != nil && len(pack) > 0 {
		fill(pack)
	}
	c := CRC16(plain[:total-2])
	plain[total-2], plain[total-1] = byte(c), byte(c>>8)
	out := make([]byte, 1+total)
	out[0] = STEX
	for i := 0; i < total; i += aes.BlockSize {
		k.block.Encrypt(out[1+i:], plain[i:])
	}
	return out, nil
}

// Open decrypts the DATA of an encrypted frame and returns its counter and
// eDATA. It checks the block length, eCRC and eLENGTH; the counter is the
// caller's to check (CheckCount).
func (k *Key) Open(data []byte) (count uint32, inner []byte, err error) {
	if len(data) == 0 || data[0] != STEX {
		return 0, nil, ErrNotEncrypted
	}
	ct := data[1:]
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return 0, nil, fmt.Errorf("%w: %d bytes", ErrCipherLength, len(ct))
	}
	plain := make([]byte, len(ct))
	for i := 0; i < len(ct); i += aes.BlockSize {
		k.block.Decrypt(plain[i:], ct[i:])
	}
	n := len(plain)
	want := CRC16(plain[:n-2])
	if got := uint16(plain[n-2]) | uint16(plain[n-1])<<8; got != want {
		return 0, nil, fmt.Errorf("%w: %04X, want %04X", ErrECRC, got, want)
	}
	el := int(plain[0])
	if 5+el > n-2 {
		return 0, nil, fmt.Errorf("%w: eLENGTH %d in %d bytes", ErrELength, el, n)
	}
	return binary.LittleEndian.Uint32(plain[1:5]), plain[5 : 5+el], nil
}

// CheckCount returns an error wrapping ErrCount unless got == want.
func CheckCount(got, want uint32) error {
	if got != want {
		return fmt.Errorf("%w: got %d, want %d", ErrCount, got, want)
	}
	return nil
}

// ModPow is b^e mod m for 64-bit values (m > 0), the Diffie-Hellman step of
// the key exchange: intermediate = g^random mod p, key = other^random mod p.
func ModPow(b, e, m uint64) uint64 {
	if m == 1 {
		return 0
	}
	r, b := uint64(1), b%m
	for e > 0 {
		if e&1 == 1 {
			r = mulMod(r, b, m)
		}
		b = mulMod(b, b, m)
		e >>= 1
	}
	return r
}

func mulMod(a, b, m uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return bits.Rem64(hi, lo, m)
}

// IsPrime is a deterministic Miller-Rabin test, exact for all 64-bit n
// (the first 12 primes as bases suffice below 3.3·10^24). The key exchange
// needs prime generator and modulus.
func IsPrime(n uint64) bool {
	bases := [...]uint64{2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37}
	if n < 2 {
		return false
	}
	for _, p := range bases {
		if n%p == 0 {
			return n == p
		}
	}
	d, s := n-1, 0
	for d&1 == 0 {
		d >>= 1
		s++
	}
next:
	for _, a := range bases {
		x := ModPow(a, d, n)
		if x == 1 || x == n-1 {
			continue
		}
		for range s - 1 {
			x = mulMod(x, x, n)
			if x == n-1 {
				continue next
			}
		}
		return false
	}
	return true
}
