import { distance } from 'fastest-levenshtein';

/**
 * The closest candidate to a misspelt word, if one is close enough to be what the author meant:
 * within a third of the word's length (at least 2 edits), or differing only in case.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  return closestAmong(
    word,
    list,
    list.map((c) => c.toLowerCase()),
  );
}

/** " Did you mean 'x'?" or "", for the end of a message. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  return suggestion(closestMatch(word, candidates));
}

/**
 * `didYouMean` over one fixed list asked many times (the node names, for every broken edge and
 * reference): the candidates are lowered once and each word's answer is kept.
 */
export class Suggestions {
  private readonly lowered: readonly string[];
  private readonly answers = new Map<string, string>();

  constructor(private readonly candidates: readonly string[]) {
    this.lowered = candidates.map((c) => c.toLowerCase());
  }

  didYouMean(word: string): string {
    let answer = this.answers.get(word);
    if (answer === undefined) {
      answer = suggestion(closestAmong(word, this.candidates, this.lowered));
      this.answers.set(word, answer);
    }
    return answer;
  }
}

function suggestion(match: string | undefined): string {
  return match === undefined ? '' : ` Did you mean '${match}'?`;
}

/** closestMatch, with each candidate's lower case at the same index of `lowered`. */
function closestAmong(
  word: string,
  candidates: readonly string[],
  lowered: readonly string[],
): string | undefined {
  const lower = word.toLowerCase();
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i]!;
    if (candidate === word) continue;
    let d: number;
    if (lowered[i] === lower) d = 0.5;
    else {
      // The edit distance is at least the difference in length: a candidate that cannot beat the
      // best so far, or could never be close enough, is not worth the full computation.
      const gap = Math.abs(candidate.length - word.length);
      if (gap >= bestDistance || gap > limit) continue;
      d = distance(word, candidate);
    }
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
