import { conversationKey } from '../../src/core/conversation.ts';
import type { Note, NotesStore } from '../../src/core/stores.ts';

/** Notes kept in a Map, for runner tests that do not exercise Redis. */
export function createMemoryNotes(limit = 50): NotesStore {
  const byChannel = new Map<string, Note[]>();
  const keyOf = (ref: Parameters<NotesStore['list']>[0]) => conversationKey({ ...ref, threadId: null });
  return {
    add: async (channel, note) => {
      const notes = byChannel.get(keyOf(channel)) ?? [];
      if (notes.length >= limit) return { status: 'full', limit };
      notes.push(note);
      byChannel.set(keyOf(channel), notes);
      return { status: 'added', count: notes.length };
    },
    list: async (channel) => [...(byChannel.get(keyOf(channel)) ?? [])],
  };
}
