"""What the four sandboxes (exa, pix, sefaz, webhook) share: starting one as a real
process on a free port (``process``), the client of its ``/_sandbox/`` side (``admin``)
and the random fault switches of the HTTP APIs (``faults``). Each sandbox stays its own
package; this one imports none of them, nor Agrega."""
