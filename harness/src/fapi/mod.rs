//! (being written: the fapi part of the FAPI emulator issue)
