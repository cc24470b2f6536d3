"""journal/migrations/versions"""
