//! `cargo xtask …`: the commands a person runs. One module per command.

fn main() {
    println!("xtask: no commands yet");
}
