.PHONY: demo test bench

# Run the demo site on http://127.0.0.1:8080 (SQLite and files under ./data).
demo:
	cargo run --release -- serve

# Every check and test, as CI runs them.
test:
	bash scripts/test

# Load benchmark against nginx (prints figures).
bench:
	bash bench/load.sh
