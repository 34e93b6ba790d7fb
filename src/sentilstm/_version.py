"""The library version, written into every model file and report (its own module, so that nothing imports the
package root for it)."""

__version__ = "0.1.0"
