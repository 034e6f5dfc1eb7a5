package prepare

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	"autoresearch/harness"
)

// The synthetic dataset: short stories from a grammar, generated here, the
// same on every machine. Each story keeps its own state (a hero and a friend
// with names, kinds and pronouns, a place, a thing that gets lost and found,
// a count of objects that changes by simple arithmetic), so besides grammar a
// model can learn to copy names, agree pronouns, track objects and count:
// structure that keeps a small model improving for minutes, not seconds.

// syntheticSeed fixes the dataset; story i is generated from (seed, i).
const syntheticSeed = 20260101

// syntheticStories is how many stories a profile gets: at least 5,000 (a few
// MB), and enough that the held-out tenth (about 150 tokens a story) covers
// the profile's EVAL_TOKENS and the loader's look-ahead of 1,000 documents.
func syntheticStories(p harness.Profile) int { return max(5000, p.EvalTokens/10+40*p.MaxSeqLen) }

func syntheticCorpus(p harness.Profile, maxDoc int) *corpus {
	n := syntheticStories(p)
	stories := func(ctx context.Context, fn func(string) error) error {
		for i := range n {
			if i%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if err := fn(Story(uint64(i))); err != nil {
				return err
			}
		}
		return nil
	}
	train, val := sourceSplit(stories, func(i int) bool { return i%10 == 9 }, maxDoc)
	return &corpus{train: train, val: val, source: fmt.Sprintf("%d generated stories (seed %d)", n, syntheticSeed)}
}

type character struct {
	name, kind string
	he, him    string // pronouns: he/him, she/her, they/them
	his        string
}

var (
	girls   = strings.Fields("Lily Mia Emma Sara Anna Zoe Ruby Ella Nora Lucy Maya Ivy Rosa Hana Leah Amara Chloe Daisy Fiona Greta Iris June Kira Luna Mira Nina Olive Pia Tessa Wren")
	boys    = strings.Fields("Tom Ben Max Leo Sam Jack Finn Omar Noah Eli Hugo Ravi Owen Kai Luke Milo Theo Arlo Caleb Dev Ezra Felix Gus Ian Jonah Kofi Liam Nico Oscar Pablo")
	animals = strings.Fields("cat dog rabbit fox owl bear duck mouse frog turtle horse pig lion bird squirrel deer goat sheep hedgehog otter badger mole crow goose lamb puppy kitten pony beaver robin")
	places  = []string{"the park", "the forest", "the beach", "the garden", "the market", "the school", "the river", "the hill", "the farm",
		"the library", "the kitchen", "the old barn", "the lake", "the meadow", "the village", "the harbor", "the bakery", "the zoo",
		"the playground", "the cave", "the station", "the orchard", "the pond", "the castle", "the museum"}
	things = strings.Fields("ball kite box hat book cake boat stone map lamp key drum apple shell feather ribbon cup spoon coin bell " +
		"scarf basket kettle candle brush button marble pencil whistle blanket")
	adjs = strings.Fields("little big kind brave shy happy sleepy curious clever gentle quick quiet funny tiny old young proud " +
		"silly careful busy friendly grumpy cheerful")
	colors   = strings.Fields("red blue green yellow purple orange pink brown white black golden silver")
	feelings = strings.Fields("happy sad scared angry excited worried surprised proud tired calm lonely glad")
	activity = []string{"play in the sun", "read books", "sing songs", "dance", "build towers", "paint pictures", "swim", "climb trees",
		"bake bread", "run fast", "collect leaves", "count stars", "tell jokes", "plant flowers", "draw maps", "fly kites", "ride a bike",
		"watch the clouds", "play the drum", "look for shells"}
	hiding = []string{"under the bed", "behind a tree", "in a hole", "under a big leaf", "on the roof", "in the grass", "inside a boot",
		"next to the door", "in the mud", "at the bottom of the basket", "under the table", "in a nest"}
	times   = []string{"morning", "afternoon", "evening", "sunny day", "rainy day", "cold night", "windy morning", "snowy day", "warm evening"}
	numbers = strings.Fields("zero one two three four five six seven eight nine ten eleven twelve")
	morals  = []string{"it is good to share", "friends help each other", "it pays to be careful", "being kind makes everyone happy",
		"you should never give up", "it is fine to ask for help", "a little patience goes a long way", "honesty is the best way"}
)

// Invented names give the long tail of rare words that real text has, so a
// tokenizer of thousands of merges has something to learn from.
var (
	onsets  = strings.Fields("b br d dr f g gl gr h j k kl l m n p pl pr r s sh st t th tr v w z")
	vowels  = strings.Fields("a e i o u a e o ai ea oo ou")
	endings = append(strings.Fields("n r l s th ck x m nd ng rt sk lt"), "", "", "", "")
)

func inventName(r *rand.Rand) string {
	var b strings.Builder
	for range 2 + r.IntN(2) {
		b.WriteString(pick(r, onsets))
		b.WriteString(pick(r, vowels))
	}
	b.WriteString(pick(r, endings))
	return cap1(b.String())
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func cap1(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an " + word
	}
	return "a " + word
}

func plural(word string, n int) string {
	switch {
	case n == 1:
		return word
	case strings.HasSuffix(word, "sh") || strings.HasSuffix(word, "ch") || strings.HasSuffix(word, "x") || strings.HasSuffix(word, "s"):
		return word + "es"
	case strings.HasSuffix(word, "y") && !strings.ContainsRune("aeiou", rune(word[len(word)-2])):
		return word[:len(word)-1] + "ies"
	}
	return word + "s"
}

func newCharacter(r *rand.Rand) character {
	c := character{kind: pick(r, animals)}
	switch r.IntN(5) {
	case 0, 1:
		c.name, c.he, c.him, c.his = pick(r, girls), "she", "her", "her"
	case 2, 3:
		c.name, c.he, c.him, c.his = pick(r, boys), "he", "him", "his"
	default:
		c.name, c.he, c.him, c.his = inventName(r), "they", "them", "their"
	}
	if r.IntN(3) == 0 {
		c.kind = "child"
	}
	return c
}

// is is the past tense of "to be" for the character's pronoun.
func (c character) is() string {
	if c.he == "they" {
		return "were"
	}
	return "was"
}

// Story returns synthetic story i: a few paragraphs of simple English.
func Story(i uint64) string {
	r := rand.New(rand.NewPCG(syntheticSeed, i))
	hero, friend := newCharacter(r), newCharacter(r)
	for friend.name == hero.name {
		friend = newCharacter(r)
	}
	place, thing, color := pick(r, places), pick(r, things), pick(r, colors)
	town := inventName(r)
	var b strings.Builder
	say := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }

	// Opening.
	switch r.IntN(4) {
	case 0:
		say("Once upon a time, there was %s %s named %s.", article(pick(r, adjs)), hero.kind, hero.name)
	case 1:
		say("One %s, %s %s went to %s.", pick(r, times), article(pick(r, adjs)), hero.kind, place)
		say(" The %s was called %s.", hero.kind, hero.name)
	case 2:
		say("%s %s %s %s who lived near %s.", hero.name, hero.is(), article(pick(r, adjs)), hero.kind, place)
	default:
		say("In the village of %s, there lived %s %s. %s name was %s.", town, article(pick(r, adjs)), hero.kind, cap1(hero.his), hero.name)
	}
	say(" %s loved to %s.", cap1(hero.he), pick(r, activity))
	if r.IntN(2) == 0 {
		say(" %s best friend was %s, %s %s.", cap1(hero.his), friend.name, article(pick(r, adjs)), friend.kind)
	} else {
		say(" %s had a friend named %s.", cap1(hero.he), friend.name)
	}
	say(" %s had %s %s.\n\n", cap1(hero.he), article(color), thing)

	// Counting, with the arithmetic spelled out.
	if r.IntN(3) > 0 {
		obj := pick(r, things)
		n := 3 + r.IntN(9)
		k := 1 + r.IntN(n-1)
		say("%s had %s %s.", hero.name, numbers[n], plural(obj, n))
		if r.IntN(2) == 0 {
			say(" %s gave %s to %s.", cap1(hero.he), numbers[k], friend.name)
			say(" Now %s had %s %s left, and %s had %s.", hero.name, numbers[n-k], plural(obj, n-k), friend.name, numbers[k])
		} else if n+k <= 12 {
			say(" Then %s found %s more.", hero.he, numbers[k])
			say(" Now %s had %s %s.", hero.name, numbers[n+k], plural(obj, n+k))
		} else {
			say(" %s counted them again: %s.", cap1(hero.he), numbers[n])
		}
		say("\n\n")
	}

	// The problem: the thing is lost.
	say("One day, %s could not find %s %s %s.", hero.name, hero.his, color, thing)
	feel := pick(r, []string{"sad", "worried", "upset", "scared"})
	say(" %s %s very %s.", cap1(hero.he), hero.is(), feel)
	say(" \"Where is my %s?\" asked %s.", thing, hero.name)
	switch r.IntN(3) {
	case 0:
		say(" \"Do not worry, %s. I will help you look,\" said %s.", hero.name, friend.name)
	case 1:
		say(" %s came over and said, \"Let us look together.\"", friend.name)
	default:
		say(" \"Maybe it is at %s,\" said %s.", place, friend.name)
	}
	say("\n\n")

	// The search.
	tries := 1 + r.IntN(3)
	for t := range tries {
		spot := pick(r, hiding)
		if t < tries-1 {
			say("They looked %s, but the %s was not there. ", spot, thing)
			continue
		}
		say("At last they looked %s, and there was the %s %s!", spot, color, thing)
	}
	say(" %s %s so %s. \"Thank you, %s!\" %s said.", cap1(hero.name), hero.is(), pick(r, []string{"happy", "glad", "relieved"}),
		friend.name, hero.he)
	if r.IntN(2) == 0 {
		say(" %s smiled and felt %s.", friend.name, pick(r, feelings))
	}
	say("\n\n")

	// Ending.
	switch r.IntN(3) {
	case 0:
		say("From that day on, %s always kept %s %s in a safe place.", hero.name, hero.his, thing)
	case 1:
		say("That %s, %s and %s went to %s to %s together.", pick(r, times), hero.name, friend.name, place, pick(r, activity))
		say(" Everyone in %s heard about it.", town)
	default:
		say("%s learned that %s.", hero.name, pick(r, morals))
	}
	say(" The end.")
	return b.String()
}
