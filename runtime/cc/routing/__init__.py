"""Where an order goes: candidate venues, what is already promised at each, and the SOR."""
