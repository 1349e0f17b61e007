"""What-if: client traffic replayed under a configuration, with a simulated clock, through
the decisions the live worker takes (bot/usecases/decisions.py, routing/)."""
