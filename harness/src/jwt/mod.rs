//! (being written: the jwt part of the FAPI emulator issue)
