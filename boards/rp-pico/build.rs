//! Link with `memory.x` and embed the model from `PICOSPIKE_MODEL_DIR` (default `../models/demo`).
fn main() {
    picospike_board_build::memory_x();
    picospike_board_build::model();
}
