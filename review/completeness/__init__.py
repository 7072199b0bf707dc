"""Completeness: who handed in, attendance, exemptions, notices, reminders and their exports."""
