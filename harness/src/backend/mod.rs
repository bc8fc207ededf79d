//! (being written: the backend part of the FAPI emulator issue)
