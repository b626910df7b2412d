"""The theorem checks every theory chapter shares, and the random instance families they run on."""
