// Package config turns the environment into a validated Config. A wrong or
// missing value stops start-up with an error that names the variable.
package config
