"""journal/migrations"""
