"""engine/zero_shot"""
