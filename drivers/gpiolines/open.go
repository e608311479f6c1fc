package gpiolines

import (
	"errors"
	"fmt"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// Errors Open returns; test with errors.Is.
var (
	// ErrNoGPIO: the machine has no GPIO lines at all (no /dev/gpiochip*,
	// as on a VM or a CI runner). Tests use periph's gpiotest instead.
	ErrNoGPIO = errors.New("no GPIO lines on this machine")
	// ErrNoLine: there are GPIO lines, but none by this name.
	ErrNoLine = errors.New("no GPIO line by this name")
)

// Open finds a real GPIO line by name (a chip's line name such as "GPIO17",
// or a number) through periph.io/x/host. It initialises the host drivers on
// each call: host.Init loads them once per process and then returns the
// same state, so calling it per line is cheap and needs no package state
// here. The line is returned unconfigured; the driver calls In or Out.
func Open(name string) (gpio.PinIO, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("gpio: empty line name")
	}
	st, err := host.Init()
	if err != nil {
		return nil, fmt.Errorf("gpio line %q: initialise host drivers: %w", name, err)
	}
	if p := gpioreg.ByName(name); p != nil {
		return p, nil
	}
	if len(gpioreg.All()) == 0 {
		why := ""
		if st != nil {
			for _, f := range st.Failed {
				why += "; " + f.String()
			}
			for _, s := range st.Skipped {
				if strings.Contains(s.D.String(), "gpio") {
					why += "; " + s.String()
				}
			}
		}
		return nil, fmt.Errorf("gpio line %q: %w (no /dev/gpiochip* found%s)", name, ErrNoGPIO, why)
	}
	return nil, fmt.Errorf("gpio line %q: %w", name, ErrNoLine)
}
