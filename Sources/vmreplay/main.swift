print("vmreplay: under construction")
