"""Decision: gathers every agency's findings (or waits out the deadline),
then sets RAG and outcome with the reasons that produced them."""
